################################################################################
#
# limina-init
#
################################################################################

# Our own files, kept beside this .mk: no download.
LIMINA_INIT_VERSION = 0.1.0
LIMINA_INIT_SITE = $(BR2_EXTERNAL_LIMINA_PATH)/../package/limina-init
LIMINA_INIT_SITE_METHOD = local
LIMINA_INIT_LICENSE = MIT or Apache-2.0
LIMINA_INIT_DEPENDENCIES = host-s6-rc host-s6-linux-init-maker s6-rc s6-linux-init

LIMINA_INIT_GETTY_PORT = $(call qstrip,$(BR2_PACKAGE_LIMINA_INIT_GETTY_PORT))
LIMINA_INIT_DATA_MTD = $(call qstrip,$(BR2_PACKAGE_LIMINA_INIT_DATA_MTD))
# A trial boot's health condition: the services upgrade-commit depends on
# (s6-rc-compile fails on a name that is no service or bundle), and how
# long they may take and must then stay up (docs/upgrading-trial.md).
LIMINA_INIT_TRIAL_HEALTH = $(call qstrip,$(BR2_PACKAGE_LIMINA_INIT_TRIAL_HEALTH))
LIMINA_INIT_TRIAL_TIMEOUT = $(call qstrip,$(BR2_PACKAGE_LIMINA_INIT_TRIAL_TIMEOUT))
LIMINA_INIT_TRIAL_SETTLE = $(call qstrip,$(BR2_PACKAGE_LIMINA_INIT_TRIAL_SETTLE))

ifeq ($(LIMINA_INIT_GETTY_PORT),)
define LIMINA_INIT_INSTALL_GETTY
	rm -rf $(TARGET_DIR)/etc/s6-rc/source/getty
	rm -f $(TARGET_DIR)/etc/s6-rc/source/default/contents.d/getty
endef
else
define LIMINA_INIT_INSTALL_GETTY
	printf '#!/bin/sh\n# The console getty. Its output is the console itself, not a log.\nexec getty -L 0 %s vt100\n' \
		'$(LIMINA_INIT_GETTY_PORT)' > $(TARGET_DIR)/etc/s6-rc/source/getty/run
	chmod 0755 $(TARGET_DIR)/etc/s6-rc/source/getty/run
endef
endif

ifneq ($(BR2_PACKAGE_DROPBEAR),y)
define LIMINA_INIT_REMOVE_DROPBEAR
	rm -rf $(TARGET_DIR)/etc/s6-rc/source/dropbear*
	rm -f $(TARGET_DIR)/etc/s6-rc/source/default/contents.d/dropbear-pipeline
endef
endif

# The router services: the router file rendered into s6-rc source
# definitions (into the "router" bundle, part of "default") and the files
# they read (/etc/limina/router). The render checks the file first and
# writes nothing when it is wrong.
LIMINA_INIT_ROUTER_FILE = $(call qstrip,$(BR2_PACKAGE_LIMINA_INIT_ROUTER_FILE))
ifeq ($(BR2_PACKAGE_LIMINA_INIT_ROUTER),y)
ifeq ($(LIMINA_INIT_ROUTER_FILE),)
$(error BR2_PACKAGE_LIMINA_INIT_ROUTER_FILE is empty: name the router file (docs/router.md))
endif
LIMINA_INIT_DEPENDENCIES += host-limina-host
define LIMINA_INIT_INSTALL_ROUTER
	rm -rf $(@D)/router
	# Every router service starts after the base file systems (/proc,
	# /sys, /run, /var/log: mount-fs); the secrets file on /data after
	# /data is mounted (mount-data).
	$(HOST_DIR)/bin/limina-host router render --after mount-fs \
		--mount /data=mount-data $(LIMINA_INIT_ROUTER_FILE) $(@D)/router
	cp -a $(@D)/router/s6-rc/. $(TARGET_DIR)/etc/s6-rc/source/
	touch $(TARGET_DIR)/etc/s6-rc/source/default/contents.d/router
	rm -rf $(TARGET_DIR)/etc/limina/router
	mkdir -p $(TARGET_DIR)/etc/limina
	cp -a $(@D)/router/etc $(TARGET_DIR)/etc/limina/router
	$(LIMINA_INIT_INSTALL_PPP_IPV6)
	# [system] hostname (set at boot by mount-fs).
	cp $(@D)/router/etc/hostname $(TARGET_DIR)/etc/hostname
	# [ssh]: root's authorized keys; the dropbear service reads
	# /etc/limina/router/ssh/dropbear-args.
	if [ -f $(@D)/router/etc/ssh/authorized_keys ]; then \
		$(INSTALL) -d -m 0700 $(TARGET_DIR)/root/.ssh && \
		$(INSTALL) -m 0600 $(@D)/router/etc/ssh/authorized_keys \
			$(TARGET_DIR)/root/.ssh/authorized_keys; \
	fi
endef
# pppd always runs /etc/ppp/ipv6-up and ipv6-down (the rendered options
# cannot name them: pppd 2.4 has no ipv6-up-script): wrappers for the
# outputs applets, which must see their own name in argv[0].
ifeq ($(BR2_PACKAGE_PPPD),y)
LIMINA_INIT_DEPENDENCIES += pppd
define LIMINA_INIT_INSTALL_PPP_IPV6
	mkdir -p $(TARGET_DIR)/etc/ppp
	for hook in ipv6-up ipv6-down; do \
		printf '#!/bin/sh\nexec /usr/bin/ppp-%s "$$@"\n' $$hook \
			> $(TARGET_DIR)/etc/ppp/$$hook && \
		chmod 0755 $(TARGET_DIR)/etc/ppp/$$hook || exit 1; \
	done
endef
endif
# After every package is installed: the programs the rendered services
# run must be in the image.
define LIMINA_INIT_CHECK_ROUTER
	for prog in $$(grep -rhv '^[[:space:]]*#' $(LIMINA_INIT_DIR)/router/s6-rc $(LIMINA_INIT_DIR)/router/etc | \
		grep -owE 'dnsmasq|nft|hostapd|pppd|odhcp6c|xl2tpd' | sort -u); do \
		if [ ! -x $(TARGET_DIR)/usr/sbin/$$prog ] && [ ! -x $(TARGET_DIR)/usr/bin/$$prog ] && \
			[ ! -x $(TARGET_DIR)/sbin/$$prog ]; then \
			echo "limina-init: the router file needs $$prog: select its package" >&2; \
			exit 1; \
		fi; \
	done
endef
endif

define LIMINA_INIT_INSTALL_TARGET_CMDS
	rm -rf $(TARGET_DIR)/etc/s6-rc/source
	mkdir -p $(TARGET_DIR)/etc/s6-rc
	cp -a $(@D)/services $(TARGET_DIR)/etc/s6-rc/source
	$(LIMINA_INIT_INSTALL_GETTY)
	$(LIMINA_INIT_REMOVE_DROPBEAR)
	$(LIMINA_INIT_INSTALL_ROUTER)
	$(INSTALL) -D -m 0755 $(@D)/libexec/mount-fs \
		$(TARGET_DIR)/usr/libexec/limina-init/mount-fs
	$(INSTALL) -D -m 0755 $(@D)/libexec/mount-data \
		$(TARGET_DIR)/usr/libexec/limina-init/mount-data
	$(INSTALL) -D -m 0755 $(@D)/libexec/upgrade-commit \
		$(TARGET_DIR)/usr/libexec/limina-init/upgrade-commit
	mkdir -p $(TARGET_DIR)/etc/s6-rc/source/upgrade-commit/dependencies.d
	for s in $(or $(LIMINA_INIT_TRIAL_HEALTH),default); do \
		touch $(TARGET_DIR)/etc/s6-rc/source/upgrade-commit/dependencies.d/$$s || exit 1; \
	done
	mkdir -p $(TARGET_DIR)/etc/limina-init
	printf '%s\n' '$(LIMINA_INIT_DATA_MTD)' > $(TARGET_DIR)/etc/limina-init/data-mtd
	printf '%s\n' '$(or $(LIMINA_INIT_TRIAL_HEALTH),default)' > $(TARGET_DIR)/etc/limina-init/trial-health
	printf '%s\n' '$(or $(LIMINA_INIT_TRIAL_TIMEOUT),120)' > $(TARGET_DIR)/etc/limina-init/trial-timeout
	printf '%s\n' '$(or $(LIMINA_INIT_TRIAL_SETTLE),20)' > $(TARGET_DIR)/etc/limina-init/trial-settle
	# The mount point of /data: the root file system is read-only.
	mkdir -p $(TARGET_DIR)/data
	rm -rf $(TARGET_DIR)/var/log
	mkdir -p $(TARGET_DIR)/var
	ln -sf ../run/log $(TARGET_DIR)/var/log
endef

# Services added by other packages must be in
# /etc/s6-rc/source before this runs: target-finalize hooks run before the
# overlays are copied, so boards add services in a package, not an overlay.
# The database and the init are generated here, on the host, because the
# root file system is read-only on the device.
define LIMINA_INIT_GENERATE
	$(LIMINA_INIT_CHECK_ROUTER)
	rm -rf $(TARGET_DIR)/etc/s6-rc/compiled
	$(HOST_DIR)/bin/s6-rc-compile $(TARGET_DIR)/etc/s6-rc/compiled \
		$(TARGET_DIR)/etc/s6-rc/source
	rm -rf $(TARGET_DIR)/etc/s6-linux-init/current
	mkdir -p $(TARGET_DIR)/etc/s6-linux-init
	$(HOST_DIR)/bin/s6-linux-init-maker -1 \
		-f $(LIMINA_INIT_PKGDIR)/skel \
		-c /etc/s6-linux-init/current \
		-p /usr/bin:/usr/sbin:/bin:/sbin \
		$(TARGET_DIR)/etc/s6-linux-init/current
	if grep -rl '$(HOST_DIR)' $(TARGET_DIR)/etc/s6-linux-init/current \
		$(TARGET_DIR)/etc/s6-rc/compiled; then \
		echo "limina-init: host paths in the generated init (above)" >&2; \
		exit 1; \
	fi
	mkdir -p $(TARGET_DIR)/sbin
	# Absolute links: /sbin may be a link to usr/sbin (merged /usr).
	for prog in init halt poweroff reboot shutdown telinit; do \
		ln -sf /etc/s6-linux-init/current/bin/$$prog \
			$(TARGET_DIR)/sbin/$$prog || exit 1; \
	done
endef
LIMINA_INIT_TARGET_FINALIZE_HOOKS += LIMINA_INIT_GENERATE

$(eval $(generic-package))
