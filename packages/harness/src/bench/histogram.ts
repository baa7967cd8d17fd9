/**
 * Latencies recorded in an HDR histogram (microsecond resolution, 3 significant digits), so that
 * thousands of calls cost constant memory and the tail percentiles are exact to 0.1 %, and a
 * summary in milliseconds for the tables.
 */
import {
  build,
  decodeFromCompressedBase64,
  encodeIntoCompressedBase64,
  type Histogram,
} from 'hdr-histogram-js';

export interface LatencySummary {
  count: number;
  minMs: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

/** One point of a percentile distribution: `percentile` in [0, 100], latency in ms. */
export interface PercentilePoint {
  percentile: number;
  ms: number;
}

const MICROS_PER_MS = 1000;
/** One minute: anything slower is clamped (and is a failure of its own anyway). */
const HIGHEST_TRACKABLE_MICROS = 60_000_000;

export class LatencyRecorder {
  private readonly histogram: Histogram = build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_TRACKABLE_MICROS,
    numberOfSignificantValueDigits: 3,
  });

  /** Records one latency given in milliseconds (fractions kept down to 1 µs). */
  record(ms: number): void {
    const micros = Math.min(HIGHEST_TRACKABLE_MICROS, Math.max(1, Math.round(ms * MICROS_PER_MS)));
    this.histogram.recordValue(micros);
  }

  /**
   * Adds the calls of another recorder, given in its encoded form (the load generator runs in a
   * process of its own and sends its histograms back this way).
   */
  addEncoded(base64: string): void {
    const other = decodeFromCompressedBase64(base64);
    try {
      this.histogram.add(other);
    } finally {
      other.destroy();
    }
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  /** The latency (ms) at or below which `percentile` % of the recorded calls fell. */
  percentileMs(percentile: number): number {
    if (this.histogram.totalCount === 0) return 0;
    return this.histogram.getValueAtPercentile(percentile) / MICROS_PER_MS;
  }

  summary(): LatencySummary {
    const h = this.histogram;
    if (h.totalCount === 0) {
      return { count: 0, minMs: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 };
    }
    return {
      count: h.totalCount,
      minMs: h.minNonZeroValue / MICROS_PER_MS,
      meanMs: round3(h.mean / MICROS_PER_MS),
      p50Ms: this.percentileMs(50),
      p90Ms: this.percentileMs(90),
      p99Ms: this.percentileMs(99),
      p999Ms: this.percentileMs(99.9),
      maxMs: h.maxValue / MICROS_PER_MS,
    };
  }

  /**
   * The distribution as points evenly spaced on the usual HDR x-axis, log10(1 / (1 - p)): dense
   * near the median and out into the tail as far as the sample size supports, then the maximum.
   */
  distribution(pointsPerDecade = 20): PercentilePoint[] {
    const count = this.histogram.totalCount;
    if (count === 0) return [];
    const decades = Math.log10(count);
    const points: PercentilePoint[] = [];
    for (let i = 0; i <= Math.floor(decades * pointsPerDecade); i++) {
      const percentile = 100 * (1 - 10 ** (-i / pointsPerDecade));
      points.push({ percentile: round3(percentile), ms: this.percentileMs(percentile) });
    }
    points.push({ percentile: 100, ms: this.histogram.maxValue / MICROS_PER_MS });
    return points;
  }

  /** The whole histogram in HdrHistogram's compressed base64 form, for re-analysis of a run. */
  encode(): string {
    return encodeIntoCompressedBase64(this.histogram);
  }
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
