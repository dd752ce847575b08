/* The watchdog ABI as the target's C compiler sees it: the request numbers
 * of <linux/watchdog.h> and the layout of struct watchdog_info. Built by
 * build.rs with the `cc` crate when the `abi-probe` feature is on, and read
 * by the abi-probe test in src/sys.rs. */
#include <stddef.h>
#include <linux/ioctl.h>
#include <linux/watchdog.h>

struct limina_abi_entry {
	const char *name;
	unsigned long long value;
};

#define REQ(x) { #x, (unsigned int)(x) }
#define SIZE(t) { "sizeof(" #t ")", sizeof(struct t) }
#define OFF(t, f) { "offsetof(" #t ", " #f ")", offsetof(struct t, f) }

static const struct limina_abi_entry entries[] = {
	REQ(WDIOC_GETSUPPORT),
	REQ(WDIOC_GETBOOTSTATUS),
	REQ(WDIOC_SETOPTIONS),
	REQ(WDIOC_KEEPALIVE),
	REQ(WDIOC_SETTIMEOUT),
	REQ(WDIOC_GETTIMEOUT),
	SIZE(watchdog_info),
	OFF(watchdog_info, options),
	OFF(watchdog_info, firmware_version),
	OFF(watchdog_info, identity),
};

const struct limina_abi_entry *limina_watchdog_abi(size_t *n)
{
	*n = sizeof(entries) / sizeof(entries[0]);
	return entries;
}
