# cdb/: the account maps compiler and the operator's account tool
PROGRAMS += mkmaps mailacct mapsync ratesync
MAPS_SRCS := cdb/maps.c cdb/mapsout.c cdb/mapline.c cdb/mapsio.c
mkmaps_SRCS := cdb/mkmaps.c cdb/fleet.c $(MAPS_SRCS)
mkmaps_LIBS := -lcdb
mailacct_SRCS := cdb/mailacct.c cdb/acctcmd.c cdb/acctdomain.c cdb/acctnode.c cdb/webadmin.c cdb/edit.c cdb/sheet.c cdb/acctsys.c cdb/fleet.c cdb/fleettxn.c web/apply.c web/session.c web/webparse.c $(MAPS_SRCS)
mailacct_LIBS := -lcdb -lcrypt -lbearssl
UNIT_test_maps_SRCS := cdb/maps.c cdb/mapsout.c cdb/mapline.c cdb/mapsio.c cdb/sheet.c
FUZZ_fuzz_mapline_SRCS := cdb/maps.c cdb/mapsout.c cdb/mapline.c
mapsync_SRCS := cdb/mapsync.c cdb/fleet.c cdb/fleetwatch.c cdb/fleettxn.c $(MAPS_SRCS)
mapsync_LIBS := -lcdb
ratesync_SRCS := cdb/ratesync.c cdb/ratetab.c cdb/fleet.c cdb/fleetwatch.c cdb/fleettxn.c $(MAPS_SRCS)
ratesync_LIBS := -lcdb
UNIT_test_fleet_SRCS := cdb/fleet.c cdb/fleetwatch.c cdb/maps.c cdb/mapsout.c cdb/mapline.c cdb/mapsio.c
FUZZ_fuzz_fleet_json_SRCS := cdb/fleet.c cdb/maps.c cdb/mapsout.c cdb/mapline.c cdb/mapsio.c
UNIT_test_fleethome_SRCS := cdb/maps.c cdb/mapsout.c cdb/mapline.c cdb/mapsio.c
