/*  sf_enrich.h — what the agent adds to any source's state.

    A source adapter reports what its media server says. The agent then
    completes it, in this order, from what it can see itself:
      1. DVR state from the records directory (--records-path,
         --record-pattern), for streams the source does not describe;
      2. per-stream overrides (--overrides FILE);
      3. SDP of rtsp:// sources by RTSP DESCRIBE (--rtsp-probe);
      4. node info from the configuration and usage (cpu, memory, --disks,
         network) in set->node.
    The source runner (sf_source_poll) applies it once after every good
    poll, whatever the source; adapters never call it.
*/
#ifndef SF_ENRICH_H
#define SF_ENRICH_H

#include "sf_agent.h"

typedef struct sf_enrich_t sf_enrich_t;

//  NULL with err when a configured part cannot start (bad record pattern,
//  unreadable or invalid overrides file). ops (may be NULL) gives the
//  source's default link templates, used where cfg names none.
sf_enrich_t *sf_enrich_new (const sf_agent_config_t *cfg, const sf_source_ops_t *ops,
                            char *err, size_t errlen);
void sf_enrich_destroy (sf_enrich_t **self_p);
//  Applies every configured step to set. When add_archived is true, streams
//  that exist only as DVR archives on disk are added with status suspend
//  (a camera that stopped publishing still has its archive here). Problems
//  in a step are logged (rate-limited) and do not fail the poll: the
//  source's own state is still worth reporting.
void sf_enrich_apply (sf_enrich_t *self, sf_streamset_t *set, bool add_archived);
//  True when a configured step rewrites placements (DVR directory,
//  overrides, RTSP probe): then every poll must report every placement
bool sf_enrich_rewrites_streams (const sf_enrich_t *self);
#endif
