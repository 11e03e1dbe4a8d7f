/*  sf_service.h — telling the service manager how the daemon is doing.
    Under systemd (Type=notify) the daemons say READY=1 once they serve and
    STOPPING=1 when they begin to stop; outside systemd these do nothing.
*/
#ifndef SF_SERVICE_H
#define SF_SERVICE_H

//  The daemon serves now: sockets bound, storage open (the controller) or
//  the source started (the agent). status is a one-line human summary.
void sf_service_ready (const char *status);
//  The daemon has begun an orderly stop
void sf_service_stopping (void);
#endif
