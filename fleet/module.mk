# fleet/: the fleet's certificates and etcd access rules; mapsync's service template
# (fleet/mapsync/) and the internal SMTP port's (fleet/fleet-smtp/), installed by
# yubin-setup --fleet only
PROGRAMS += fleet-conf
fleet-conf_SRCS := fleet/fleet-conf.c
fleet-conf_LIBS := -lcdb
SCRIPTS += fleet/yubin-fleet
SCRIPTS += fleet/yubin-move
SCRIPTS += fleet/fleet-demo
