################################################################################
#
# s6-linux-init-maker
#
################################################################################

# Buildroot's s6-linux-init package is target-only; limina-init runs
# s6-linux-init-maker on the host to generate the target's init at build
# time. Same source tarball as package/s6-linux-init.
S6_LINUX_INIT_MAKER_VERSION = $(S6_LINUX_INIT_VERSION)
S6_LINUX_INIT_MAKER_SOURCE = s6-linux-init-$(S6_LINUX_INIT_MAKER_VERSION).tar.gz
S6_LINUX_INIT_MAKER_SITE = $(S6_LINUX_INIT_SITE)
S6_LINUX_INIT_MAKER_DL_SUBDIR = s6-linux-init
S6_LINUX_INIT_MAKER_LICENSE = ISC
S6_LINUX_INIT_MAKER_LICENSE_FILES = COPYING
HOST_S6_LINUX_INIT_MAKER_DEPENDENCIES = host-skalibs host-execline host-s6

HOST_S6_LINUX_INIT_MAKER_CONF_OPTS = \
	--prefix=$(HOST_DIR) \
	--with-sysdeps=$(HOST_DIR)/lib/skalibs/sysdeps \
	--with-include=$(HOST_DIR)/include \
	--with-dynlib=$(HOST_DIR)/lib \
	--disable-static \
	--enable-shared \
	--disable-allstatic

define HOST_S6_LINUX_INIT_MAKER_CONFIGURE_CMDS
	(cd $(@D); $(HOST_CONFIGURE_OPTS) ./configure $(HOST_S6_LINUX_INIT_MAKER_CONF_OPTS))
endef

define HOST_S6_LINUX_INIT_MAKER_BUILD_CMDS
	$(HOST_MAKE_ENV) $(MAKE) -C $(@D) s6-linux-init-maker
endef

define HOST_S6_LINUX_INIT_MAKER_INSTALL_CMDS
	$(INSTALL) -D -m 0755 $(@D)/s6-linux-init-maker \
		$(HOST_DIR)/bin/s6-linux-init-maker
endef

$(eval $(host-generic-package))
