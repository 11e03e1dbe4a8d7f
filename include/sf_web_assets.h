/*  sf_web_assets.h — the web page's files, embedded into the controller at
    build time (controller/web/embed.sh writes build/gen/web_assets.c), so the
    controller serves its page with nothing to install beside the binary.
*/
#ifndef SF_WEB_ASSETS_H
#define SF_WEB_ASSETS_H

#include <stddef.h>

typedef struct {
    const char *path;               //  "/app.js"
    const char *content_type;
    const unsigned char *data;
    size_t size;
} sf_web_asset_t;

extern const sf_web_asset_t sf_web_assets [];
extern const size_t sf_web_assets_count;
#endif
