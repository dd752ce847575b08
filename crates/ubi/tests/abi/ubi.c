/* The UBI ABI as the target's C compiler sees it: the request numbers of
 * <mtd/ubi-user.h>, and the sizes and field offsets of its structs. Built by
 * build.rs with the `cc` crate when the `abi-probe` feature is on, and read
 * by the abi-probe test in src/sys.rs, which compares every entry with the
 * Rust side (the bindgen structs and nix's request-number macros). */
#include <stddef.h>
#include <linux/ioctl.h>
#include <mtd/ubi-user.h>

struct limina_abi_entry {
	const char *name;
	unsigned long long value;
};

#define REQ(x) { #x, (unsigned int)(x) }
#define SIZE(t) { "sizeof(" #t ")", sizeof(struct t) }
#define OFF(t, f) { "offsetof(" #t ", " #f ")", offsetof(struct t, f) }

static const struct limina_abi_entry entries[] = {
	REQ(UBI_IOCMKVOL),
	REQ(UBI_IOCRMVOL),
	REQ(UBI_IOCRSVOL),
	REQ(UBI_IOCRNVOL),
	REQ(UBI_IOCATT),
	REQ(UBI_IOCDET),
	REQ(UBI_IOCVOLUP),
	SIZE(ubi_attach_req),
	OFF(ubi_attach_req, ubi_num),
	OFF(ubi_attach_req, mtd_num),
	OFF(ubi_attach_req, vid_hdr_offset),
	OFF(ubi_attach_req, max_beb_per1024),
	OFF(ubi_attach_req, disable_fm),
	SIZE(ubi_mkvol_req),
	OFF(ubi_mkvol_req, vol_id),
	OFF(ubi_mkvol_req, alignment),
	OFF(ubi_mkvol_req, bytes),
	OFF(ubi_mkvol_req, vol_type),
	OFF(ubi_mkvol_req, flags),
	OFF(ubi_mkvol_req, name_len),
	OFF(ubi_mkvol_req, name),
	SIZE(ubi_rsvol_req),
	OFF(ubi_rsvol_req, bytes),
	OFF(ubi_rsvol_req, vol_id),
	SIZE(ubi_rnvol_req),
	OFF(ubi_rnvol_req, count),
	OFF(ubi_rnvol_req, ents),
	{ "sizeof(ubi_rnvol_req.ents[0])", sizeof(((struct ubi_rnvol_req *)0)->ents[0]) },
	{ "offsetof(ubi_rnvol_req.ents[0], name)", offsetof(struct ubi_rnvol_req, ents[0].name) },
};

const struct limina_abi_entry *limina_ubi_abi(size_t *n)
{
	*n = sizeof(entries) / sizeof(entries[0]);
	return entries;
}
