/**
 * Topic names and filters, checked before anything reaches the broker so that a bad topic is a clear
 * input error rather than a broker disconnect (MQTT 3.1.1 section 4.7; MQTT 5.0 section 4.7).
 */

const MAX_TOPIC_BYTES = 65_535; // [MQTT-4.7.3-3] a UTF-8 encoded string of at most 65,535 bytes

function commonProblem(topic: string): string | undefined {
  if (topic.length === 0) return 'must not be empty'; // [MQTT-4.7.3-1]
  if (topic.includes('\u0000')) return 'must not contain the null character'; // [MQTT-4.7.3-2]
  if (Buffer.byteLength(topic, 'utf8') > MAX_TOPIC_BYTES) return 'is longer than 65535 bytes';
  return undefined;
}

/** Why `topic` is not a valid topic name to publish to, or undefined if it is. */
export function topicNameProblem(topic: string): string | undefined {
  const common = commonProblem(topic);
  if (common !== undefined) return common;
  // [MQTT-3.3.2-2] the topic name in a PUBLISH must not contain wildcard characters.
  if (topic.includes('+') || topic.includes('#')) return "must not contain the wildcards '+' or '#'";
  return undefined;
}

/** Why `filter` is not a valid topic filter to subscribe to, or undefined if it is. */
export function topicFilterProblem(filter: string): string | undefined {
  const common = commonProblem(filter);
  if (common !== undefined) return common;
  let levels = filter.split('/');
  // MQTT 5 shared subscriptions, `$share/{ShareName}/{filter}` (section 4.8.2).
  if (levels[0] === '$share') {
    const group = levels[1];
    if (group === undefined || group === '' || levels.length < 3) {
      return "a shared subscription is '$share/<group>/<filter>'";
    }
    if (group.includes('+') || group.includes('#')) return 'a share name must not contain wildcards';
    levels = levels.slice(2);
    if (levels.join('/') === '') return 'a shared subscription needs a topic filter after the share name';
  }
  for (const [i, level] of levels.entries()) {
    // [MQTT-4.7.1-2] '#' must be a whole level and the last one.
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) {
      return "'#' must be a whole level and the last one (e.g. 'sensors/#')";
    }
    // [MQTT-4.7.1-3] '+' must occupy a whole level.
    if (level.includes('+') && level !== '+') return "'+' must be a whole level (e.g. 'sensors/+/temp')";
  }
  return undefined;
}
