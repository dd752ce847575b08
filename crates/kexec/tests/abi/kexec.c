/* The kexec ABI as the target's C compiler sees it: the layout of
 * struct kexec_segment (word-sized fields: 16 bytes on 32-bit targets, 32 on
 * 64-bit ones) and the flags of <linux/kexec.h>. Built by build.rs with the
 * `cc` crate when the `abi-probe` feature is on, and read by the abi-probe
 * test in src/sys.rs. */
#include <stddef.h>
#include <linux/kexec.h>

struct limina_abi_entry {
	const char *name;
	unsigned long long value;
};

#define VAL(x) { #x, (unsigned long long)(x) }
#define SIZE(t) { "sizeof(" #t ")", sizeof(struct t) }
#define OFF(t, f) { "offsetof(" #t ", " #f ")", offsetof(struct t, f) }

static const struct limina_abi_entry entries[] = {
	SIZE(kexec_segment),
	OFF(kexec_segment, buf),
	OFF(kexec_segment, bufsz),
	OFF(kexec_segment, mem),
	OFF(kexec_segment, memsz),
	VAL(KEXEC_SEGMENT_MAX),
	VAL(KEXEC_FILE_UNLOAD),
	VAL(KEXEC_FILE_NO_INITRAMFS),
};

const struct limina_abi_entry *limina_kexec_abi(size_t *n)
{
	*n = sizeof(entries) / sizeof(entries[0]);
	return entries;
}
