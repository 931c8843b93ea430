/* fuzz_fleet_json: etcdctl's JSON output (get -w json) read into the fleet's records, then the
   maps' sources assembled from them and compiled */
#include "../../cdb/fleet.h"
#include "../../cdb/fleet_impl.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fleet_snap s;
    struct maps_src src;
    struct maps_err err;
    memset(&s, 0, sizeof s);
    if (fleet_parse_range(&s, (const char *)data, size) == 0
        && fleet_src(&s, "mail.example.net\n", 17, &src) == 0) {
        maps_free(mapsio_compile(&src, &err));
        mapsio_src_free(&src);
    }
    fleet_snap_free(&s);
    return 0;
}
