# aio.mk: vifpath's all-in-one OpenStack Zed, for the root Makefile to include
# (include aio/aio.mk). Root, Debian 12, no systemd needed; see aio/README.md.
AIO_DIR ?= aio
ACCEPTANCE_TIMEOUT ?= 30m

.PHONY: aio-up aio-down aio-smoke aio-logs acceptance

## aio-up: install and start the all-in-one cloud (idempotent; ~5 min fresh, ~20 s again).
aio-up:
	bash $(AIO_DIR)/up.sh

## aio-down: stop it and remove what aio-up made (packages stay installed).
aio-down:
	bash $(AIO_DIR)/down.sh

## aio-smoke: boot a guest with the openstack CLI: ACTIVE, DHCP lease, ARP reply.
aio-smoke:
	bash $(AIO_DIR)/smoke.sh

## aio-logs: tails of every service log of the cloud.
aio-logs:
	bash $(AIO_DIR)/logs.sh 60

## acceptance: the walkthrough against the aio cloud (brings it up first); logs on failure.
acceptance: aio-up
	OS_CLOUD=vifpath-aio OS_CLIENT_CONFIG_FILE=/etc/openstack/clouds.yaml \
	  $(GO) test -tags acceptance -count=1 -timeout $(ACCEPTANCE_TIMEOUT) -v ./acceptance/... \
	  || { bash $(AIO_DIR)/logs.sh 60; exit 1; }

