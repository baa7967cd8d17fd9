// The images' HEALTHCHECK (there is no shell or curl in them): GET $HEALTH_URL, healthy below 500.
const url = process.env.HEALTH_URL;
if (!url) process.exit(1);
const timer = setTimeout(() => process.exit(1), 2_500);
try {
  const res = await fetch(url);
  await res.arrayBuffer();
  clearTimeout(timer);
  process.exit(res.status < 500 ? 0 : 1);
} catch {
  process.exit(1);
}
