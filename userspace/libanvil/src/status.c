#include <anvil/anvil.h>

const char *anvil_status_str(anvil_status_t s)
{
    return anvil_status_name(s, "ANVIL_ERR_?");
}
