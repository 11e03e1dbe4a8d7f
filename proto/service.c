/*  service.c — readiness for the service manager through libsystemd's
    sd_notify, so a unit with Type=notify starts its dependants only once
    the daemon answers. sd_notify is a no-op when NOTIFY_SOCKET is unset.
*/
#include "sf_service.h"
#include <systemd/sd-daemon.h>

void
sf_service_ready (const char *status)
{
    sd_notifyf (0, "READY=1\nSTATUS=%s", status ? status : "serving");
}

void
sf_service_stopping (void)
{
    sd_notify (0, "STOPPING=1");
}
