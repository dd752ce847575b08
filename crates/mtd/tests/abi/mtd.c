/* The MTD ABI as the target's C compiler sees it: the request numbers of
 * <mtd/mtd-abi.h> and the layouts of its structs. Built by build.rs with the
 * `cc` crate when the `abi-probe` feature is on, and read by the abi-probe
 * test in src/sys.rs, which compares every entry with the Rust side. */
#include <stddef.h>
#include <linux/ioctl.h>
#include <mtd/mtd-abi.h>

struct limina_abi_entry {
	const char *name;
	unsigned long long value;
};

#define REQ(x) { #x, (unsigned int)(x) }
#define SIZE(t) { "sizeof(" #t ")", sizeof(struct t) }
#define OFF(t, f) { "offsetof(" #t ", " #f ")", offsetof(struct t, f) }

static const struct limina_abi_entry entries[] = {
	REQ(MEMGETINFO),
	REQ(MEMERASE64),
	REQ(MEMGETBADBLOCK),
	REQ(MEMSETBADBLOCK),
	REQ(MEMUNLOCK),
	REQ(ECCGETSTATS),
	SIZE(mtd_info_user),
	OFF(mtd_info_user, type),
	OFF(mtd_info_user, flags),
	OFF(mtd_info_user, size),
	OFF(mtd_info_user, erasesize),
	OFF(mtd_info_user, writesize),
	OFF(mtd_info_user, oobsize),
	OFF(mtd_info_user, padding),
	SIZE(erase_info_user),
	SIZE(erase_info_user64),
	OFF(erase_info_user64, length),
	SIZE(mtd_ecc_stats),
	OFF(mtd_ecc_stats, bbtblocks),
};

const struct limina_abi_entry *limina_mtd_abi(size_t *n)
{
	*n = sizeof(entries) / sizeof(entries[0]);
	return entries;
}
