// Package retention decides which backups to keep and deletes the others,
// per destination, for the backups of runbook chapter 1: a count, age and
// calendar (grandfather-father-son) policy that never deletes the backup a
// restore would need.
//
// Select is pure policy: given the backups a Store listed (ID, time taken,
// verified or not), a Policy and a clock, it returns which to keep and
// which to delete, each with the rules that decided, newest first. That
// result is the dry run. Apply lists a Store, calls Select and deletes
// what it chose, oldest first, with progress, logging and cancellation.
// DirStore is the Store of a local directory of backup.TakePlan outputs;
// offsite.RetentionStore is the Store of an off-site destination.
//
// Policy rules (keep last N, keep within a duration, keep N hourly, daily,
// weekly, monthly, yearly) follow restic's "forget --keep-*": each rule
// keeps the newest verified backup of each of its N most recent calendar
// periods that hold one, independently of the other rules. Periods are
// UTC (Options.Location to change it) and weeks are ISO 8601 weeks. Two
// deliberate differences: KeepWithin is measured from now (as borg's
// --keep-within), and when a rule finds fewer periods than N, the oldest
// backup is not kept in addition (restic and borg do).
//
// Whatever the policy, Select never deletes the newest verified backup or
// any backup taken no earlier than it (it may be in progress or awaiting
// verification), deletes an unverified backup only with
// Options.DeleteUnverified, deletes nothing when no backup is verified or
// the Policy is empty, and keeps a backup whose time is unknown.
//
// # Errors
//
//   - lifeboat.ErrInvalidOptions (a *lifeboat.OptionsError naming the
//     field, e.g. "retention.Policy.KeepDaily"): Policy.Validate refused a
//     negative count or duration, Apply got no store, or a DirStore
//     NewDirStore did not build ("retention.DirStore", e.g. its zero
//     value) was used; nothing was listed nor deleted.
//   - ErrBadListing: a Store listed a backup without an ID or one ID
//     twice; nothing was deleted.
//   - ErrNotFound: the store holds no backup with that ID; Store.Delete
//     wraps it for a backup already gone (Apply counts it as deleted), and
//     backup/offsite returns it for an ID its destination does not hold.
//   - ErrNotBackup: Store.Delete refused an ID that cannot name one of
//     lifeboat's backups in the store.
//
// Apply reports its deletions through plan.ReportProgress (see Apply).
package retention
