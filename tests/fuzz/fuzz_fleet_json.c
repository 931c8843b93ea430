/* fuzz_fleet_json: etcdctl's JSON output read into the fleet's records: a range (get -w json),
   then, as a read of the directory takes it (a record it cannot read refuses it), the maps'
   sources assembled from it and compiled; and the same bytes as one response of a watch
   (watch -w json), its events read as ratesync takes them (such records flagged) */
#include "../../cdb/fleet.h"
#include "../../cdb/fleet_impl.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fleet_snap s, ev;
    struct maps_src src;
    struct maps_err err;
    char why[FLEET_ERR_MAX];
    long long compact;
    size_t i;
    memset(&s, 0, sizeof s);
    if (fleet_parse_range(&s, (const char *)data, size) == 0
        && fleet_snap_settle(&s, FLEET_BAD_REFUSE, why) == 0
        && fleet_src(&s, "mail.example.net\n", 17, &src) == 0) {
        maps_free(mapsio_compile(&src, &err));
        mapsio_src_free(&src);
    }
    fleet_snap_free(&s);
    memset(&ev, 0, sizeof ev);
    if (fleet_parse_watch(&ev, (const char *)data, size, &compact) == 0) {
        volatile size_t len = 0;
        for (i = 0; i < ev.n; i++) {    /* each event a string key, a value or a deletion
                                           or a record that cannot be read (with why) */
            len += strlen(ev.kv[i].key) + (ev.kv[i].val ? strlen(ev.kv[i].val) : 0)
                   + (ev.kv[i].bad ? strlen(ev.kv[i].bad) : 0);
        }
    }
    fleet_snap_free(&ev);
    return 0;
}
