# fleet/: the fleet's certificates and etcd access rules; mapsync's service template
# (fleet/mapsync/, installed by yubin-setup --fleet only)
SCRIPTS += fleet/yubin-fleet
