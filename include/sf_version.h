/*  sf_version.h — the release version of the three binaries and the package.
    Printed by --version with the wire protocol version (sf_codec.h), so an
    operator can tell at once whether an agent and a controller speak alike.
    The Makefile and the Debian package read SF_VERSION from here.
*/
#ifndef SF_VERSION_H
#define SF_VERSION_H

#define SF_VERSION "0.3.0"

#endif
