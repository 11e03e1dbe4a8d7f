/*  fuzz_config — a configuration file ("key = value" lines) read into the
    controller's and the agent's option tables, as --config reads it. */
#include "fuzz.h"
#include "sf_config.h"
#include "sf_controller.h"
#include "sf_agent.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char err [512];
    static sf_controller_config_t ctl;
    sf_config_defaults (sf_controller_options, &ctl);
    FILE *f = fmemopen ((void *) data, size ? size : 1, "r");
    if (!f)
        return 0;
    if (size)
        (void) sf_config_load_stream (sf_controller_options, &ctl, f, "fuzz.conf", err, sizeof (err));
    fclose (f);
    static sf_agent_config_t agent;
    sf_config_defaults (sf_agent_core_options, &agent);
    f = fmemopen ((void *) data, size ? size : 1, "r");
    if (!f)
        return 0;
    if (size)
        (void) sf_config_load_stream (sf_agent_core_options, &agent, f, "fuzz.conf", err, sizeof (err));
    fclose (f);
    return 0;
}
