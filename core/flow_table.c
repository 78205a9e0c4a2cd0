/* flow_table.c -- hash index of TCP flows (see flow_table.h). */
#include "flow_table.h"

#include <string.h>

#define FLOW_TABLE_MIN_SLOTS 256

G_STATIC_ASSERT(sizeof(flow_key) == 40);

static size_t slot_of(const flow_table *ft, uint32_t h)
{
    return h & ft->mask;
}

static void put(flow_table *ft, flow_key *k, uint32_t h)
{
    size_t i = slot_of(ft, h);
    while (ft->slots[i].key)
        i = (i + 1) & ft->mask;
    ft->slots[i].hash = h;
    ft->slots[i].key = k;
}

static void grow(flow_table *ft)
{
    flow_slot *old = ft->slots;
    size_t old_n = old ? ft->mask + 1 : 0;
    size_t n = old_n ? old_n * 2 : FLOW_TABLE_MIN_SLOTS;

    ft->slots = g_new0(flow_slot, n);
    ft->mask = n - 1;
    for (size_t i = 0; i < old_n; i++)
        if (old[i].key)
            put(ft, old[i].key, old[i].hash);
    g_free(old);
}

void flow_table_init(flow_table *ft)
{
    memset(ft, 0, sizeof *ft);
}

void flow_table_clear(flow_table *ft)
{
    g_free(ft->slots);
    flow_table_init(ft);
}

void flow_table_insert(flow_table *ft, flow_key *k, uint32_t h)
{
    /* Load factor at most 1/2 keeps linear probes short. */
    if (!ft->slots || (ft->count + 1) * 2 > ft->mask + 1)
        grow(ft);
    put(ft, k, h);
    ft->count++;
}

void flow_table_remove(flow_table *ft, const flow_key *k, uint32_t h)
{
    if (!ft->slots)
        return;
    size_t i = slot_of(ft, h);
    while (ft->slots[i].key != k) {
        if (!ft->slots[i].key)
            return;
        i = (i + 1) & ft->mask;
    }
    /* Backward-shift deletion: pull later members of the probe run into
     * the hole so that no lookup ever stops early at it. */
    for (size_t j = (i + 1) & ft->mask; ft->slots[j].key; j = (j + 1) & ft->mask) {
        size_t home = slot_of(ft, ft->slots[j].hash);
        /* slot j may move to i if its home is not cyclically in (i, j] */
        bool stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            ft->slots[i] = ft->slots[j];
            i = j;
        }
    }
    ft->slots[i].key = NULL;
    ft->count--;
}
