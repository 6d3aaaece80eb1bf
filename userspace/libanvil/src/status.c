#include <anvil/status.h>

const char *anvil_status_str(anvil_status_t s)
{
    switch (s) {
#define ANVIL_STATUS_CASE(name, value, desc) \
    case name:                               \
        return #name;
        ANVIL_STATUS_LIST(ANVIL_STATUS_CASE)
#undef ANVIL_STATUS_CASE
    }
    return "ANVIL_ERR_?";
}
