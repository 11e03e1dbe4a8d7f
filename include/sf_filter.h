/*  sf_filter.h — the one filter evaluator (DESIGN §3), used by the CLI path,
    the HTTP API and the web page's API alike.

    The eight parameters of a media server's Streams page are grouped:
      type  {primary, secondary, migrated}   OR-ed within the group
      state {active, suspend, transfer}      OR-ed within the group
      functions {dvr, audio}                 all required
    Groups are AND-ed, then a name match (case-insensitive substring, or a glob
    when the pattern holds '*' or '?') and an exact node match.
    Evaluation works on the derived view of a placement: its type may be
    migrated, its status offline, its transfer flag set.
*/
#ifndef SF_FILTER_H
#define SF_FILTER_H

#include "sf_record.h"

#define SF_STATE_ACTIVE   0x01
#define SF_STATE_SUSPEND  0x02
#define SF_STATE_TRANSFER 0x04
#define SF_STATE_CONFLICT 0x08

typedef struct {
    uint8_t types;          //  bit (1 << sf_type_t); 0 = any
    uint8_t states;         //  SF_STATE_*; 0 = any
    uint8_t functions;      //  SF_FN_* all required
    char name [SF_NAME_MAX + 1];
    bool name_glob;
    char node [SF_NODE_MAX + 1];
} sf_filter_t;

void sf_filter_init (sf_filter_t *self);
//  Adds comma-separated parameters ("secondary,dvr"). Returns 0, or -1 with
//  an error naming the unknown parameter and listing the valid ones.
int sf_filter_parse (sf_filter_t *self, const char *params, char *err, size_t errlen);
int sf_filter_set_name (sf_filter_t *self, const char *pattern, char *err, size_t errlen);
int sf_filter_set_node (sf_filter_t *self, const char *node, char *err, size_t errlen);
//  Writes the parameters back as "primary,dvr" (for the wire and for display)
const char *sf_filter_params (const sf_filter_t *self, char *buf, size_t size);
//  Cheap part: type, status, derived marks, functions, node. No string work
//  but node. marks: SF_MARK_TRANSFER | SF_MARK_CONFLICT (a bool transfer
//  reads as SF_MARK_TRANSFER).
#define SF_MARK_TRANSFER 0x01
#define SF_MARK_CONFLICT 0x02
bool sf_filter_match_fields (const sf_filter_t *self, const char *node, uint8_t type,
                             uint8_t status, uint8_t marks, uint8_t functions);
bool sf_filter_match_name (const sf_filter_t *self, const char *name);
bool sf_filter_match (const sf_filter_t *self, const sf_stream_t *s);

//  Sorting by any column of the listing: the keys are the field table's
//  SORT lines (sf_sort_key_t, sf_fields.h)
typedef struct {
    uint8_t key;            //  sf_sort_key_t
    bool desc;
} sf_sort_t;

//  "bitrate", "-clients" (descending) or "clients:desc". Returns 0 or -1.
int sf_sort_parse (sf_sort_t *self, const char *spec, char *err, size_t errlen);
const char *sf_sort_name (int key);
#endif
