// The images' entry point: runs the package's bin (BASTION_BIN, set per image) with the container's
// arguments, so `docker run IMAGE --help` works as the bin's own --help does.
const bin = process.env.BASTION_BIN;
if (!bin) {
  process.stderr.write('BASTION_BIN is not set in this image\n');
  process.exit(2);
}
await import(new URL(bin, 'file:///app/').href);
