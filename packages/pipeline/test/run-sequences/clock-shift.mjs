// Preloaded into a CLI child (`node --import <this>`) by run-sequences-property.test.ts: its clock reads as the
// test's faked one (vitest fakes Date in-process only), shifted by SEQUENCE_CLOCK_OFFSET_MS, and moves on in real time.
const offset = Number(process.env.SEQUENCE_CLOCK_OFFSET_MS ?? 0);
const RealDate = Date;
class ShiftedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(RealDate.now() + offset);
    else super(...args);
  }
  static now() {
    return RealDate.now() + offset;
  }
}
globalThis.Date = ShiftedDate;
