package host

import (
	"context"
	"path"
	"strconv"
)

// Move renames src to dst ("mv -n src dst") with the idempotence of
// Host.Move: tests on both paths decide between done, already done, both
// present (fs.ErrExist) and neither (fs.ErrNotExist), and the source is
// checked after the move so that mv -n's silent refusal is not taken for
// success. mv copies across filesystems itself; when src is a mount point
// (its device differs from its parent's: /var/lib/etcd on its own disk),
// which mv refuses with EBUSY, Move does what Local.Move does: the content
// but lost+found is copied ("cp -a") to a temporary directory beside dst,
// synced and renamed to dst, and only then removed from src, so the mount
// point stays, empty but for lost+found. Move on such an emptied mount
// point with dst present counts as already moved; anything else in it is
// fs.ErrExist.
func (h *shellHost) Move(ctx context.Context, src, dst string) error {
	if err := h.unusable(); err != nil {
		return err
	}
	s, err := cleanAbs("move", src)
	if err != nil {
		return h.invalid(err)
	}
	d, err := cleanAbs("move", dst)
	if err != nil {
		return h.invalid(err)
	}
	line := moveLine(s, d, path.Join(path.Dir(d), "."+path.Base(d)+".lifeboat-"+randomSuffix()))
	_, code, stderr, err := h.run(ctx, "move "+src, line, nil, nil)
	if err != nil {
		return err
	}
	switch code {
	case exitExist, exitParentNotExist:
		return h.pathErr("move", dst, line, code, stderr)
	}
	if err := h.pathErr("move", src, line, code, stderr); err != nil {
		return err
	}
	h.log.Debug("moved", "src", src, "dst", dst)
	return nil
}

// moveLine is the shell line of Move from s to d (clean absolute paths),
// staging a mount point's content in tmp (beside d, removed on failure).
func moveLine(s, d, tmp string) string {
	exist, parent, notExist := strconv.Itoa(exitExist), strconv.Itoa(exitParentNotExist), strconv.Itoa(exitNotExist)
	// each runs its body for every entry of $s but lost+found as "$f".
	each := func(body string) string {
		return `for f in "$s"/.[!.]* "$s"/..?* "$s"/*; do there "$f" || continue; ` +
			`[ "$f" = "$s/` + lostFound + `" ] && continue; ` + body + "; done"
	}
	return "s=" + quote(s) + "; d=" + quote(d) + "; t=" + quote(tmp) + "; ps=" + quote(path.Dir(s)) + "; " +
		`there() { [ -e "$1" ] || [ -L "$1" ]; }; ` +
		`ismnt() { [ -d "$s" ] && [ ! -L "$s" ] && [ "$(stat -c %d -- "$s")" != "$(stat -c %d -- "$ps")" ]; }; ` +
		`emptied() { ismnt || return 1; ` + each("return 1") + "; return 0; }; " +
		`if there "$s"; then ` +
		`if there "$d"; then if emptied; then exit 0; fi; exit ` + exist + "; fi; " +
		"if [ ! -d " + quote(path.Dir(d)) + " ]; then exit " + parent + "; fi; " +
		// A mount point: copy its content, rename the copy into place, empty it.
		`if ismnt; then ` +
		`trap 'rm -rf -- "$t"' EXIT; trap 'exit 1' HUP INT TERM PIPE; ` +
		`mkdir -- "$t" || exit 1; ` +
		each(`cp -a -- "$f" "$t"/ || exit 1`) + "; " +
		`chown --reference="$s" -- "$t" 2>/dev/null; ` +
		`chmod --reference="$s" -- "$t" && touch -r "$s" -- "$t" && sync || exit 1; ` +
		`mv -n -T -- "$t" "$d" || exit 1; if there "$t"; then exit ` + exist + "; fi; " +
		`trap - EXIT; sync || exit 1; ` +
		each(`rm -rf -- "$f" || exit 1`) + "; " +
		"sync; exit 0; fi; " +
		`mv -n -- "$s" "$d" || exit 1; ` +
		`if there "$s"; then exit ` + exist + "; fi; exit 0; " +
		"fi; " +
		`if there "$d"; then exit 0; fi; exit ` + notExist
}
