/* Tables whose entries are made when first read: the host's module tables (netstack, its json and
 * metrics tables, the client's methods) in lazy mode's states, which load runs make by the
 * thousand. A bot reads a handful of the module's fifty entries; each entry made costs a key
 * string, a closure and a table slot, about 8 KiB for the whole netstack module per state.
 *
 * The host describes a table once per process (netstack_lazy_spec: entry names, and a callback
 * that pushes entry i). A lazy table's metatable holds the spec (__lazyspec) and, as name = true,
 * every name already made or assigned by the script:
 *  - __index makes an entry the first time it is read, and only then (an entry the script
 *    removed stays removed);
 *  - __newindex marks a name as the script's, then assigns it;
 *  - __pairs makes every entry first, so pairs sees the whole table;
 *  - getmetatable and setmetatable in lazy mode, and opening debug, make every entry first
 *    (netstack_lazy_libs.c), after which the table has no metatable (or, when __fallback is set,
 *    one that only keeps the fallback).
 * __fallback (optional): a function asked for names the spec does not have (the plugin runtime's
 * stand-in answers `plugins` with it, netstack_plugin_stub.c).
 * What stays visible: rawget and next see only the entries made so far. */
#include "netstack_lua_bridge.h"
#include <string.h>

static netstack_lazy_push_fn push_entry;

void netstack_set_lazy_push(netstack_lazy_push_fn fn) { push_entry = fn; }

/* registry[&tables_key]: a sequence of every lazy table of the state. */
static const char tables_key = 0;

/* The spec in the metatable at index mt, or NULL. */
static const netstack_lazy_spec *spec_in(lua_State *L, int mt) {
    lua_pushliteral(L, "__lazyspec");
    lua_rawget(L, mt);
    const netstack_lazy_spec *spec = (const netstack_lazy_spec *)lua_touserdata(L, -1);
    lua_pop(L, 1);
    return spec;
}

/* Makes entry i of table t (absolute index; its metatable at mt) and leaves its value on top. */
static void make_entry(lua_State *L, int t, int mt, const netstack_lazy_spec *spec, int i) {
    lua_pushstring(L, spec->names[i]);
    int saved = netstack_enforce_suspend(L);
    int status = push_entry(L, spec->context, i);
    netstack_enforce_restore(L, saved);
    if (status < 0) lua_error(L);
    lua_pushvalue(L, -2);
    lua_pushvalue(L, -2);
    lua_rawset(L, t);
    lua_pushvalue(L, -2);
    lua_pushboolean(L, 1);
    lua_rawset(L, mt);
    lua_remove(L, -2);
}

static int find(const netstack_lazy_spec *spec, const char *name, size_t len) {
    for (int i = 0; i < spec->count; i++)
        if (strlen(spec->names[i]) == len && memcmp(spec->names[i], name, len) == 0) return i;
    return -1;
}

static int lazy_index(lua_State *L) {
    lua_settop(L, 2);
    if (!lua_getmetatable(L, 1)) return 0;
    int mt = 3;
    const netstack_lazy_spec *spec = spec_in(L, mt);
    if (spec && lua_type(L, 2) == LUA_TSTRING) {
        lua_pushvalue(L, 2);
        if (lua_rawget(L, mt) != LUA_TNIL) return 0;  /* made before, or the script's */
        lua_pop(L, 1);
        size_t len;
        const char *name = lua_tolstring(L, 2, &len);
        int i = find(spec, name, len);
        if (i >= 0) {
            make_entry(L, 1, mt, spec, i);
            return 1;
        }
    }
    lua_pushliteral(L, "__fallback");
    if (lua_rawget(L, mt) != LUA_TFUNCTION) return 0;
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_call(L, 2, 1);
    return 1;
}

static int lazy_newindex(lua_State *L) {
    lua_settop(L, 3);
    if (lua_type(L, 2) == LUA_TSTRING && lua_getmetatable(L, 1)) {
        const netstack_lazy_spec *spec = spec_in(L, 4);
        size_t len;
        const char *name = lua_tolstring(L, 2, &len);
        if (spec && find(spec, name, len) >= 0) {
            lua_pushvalue(L, 2);
            lua_pushboolean(L, 1);
            lua_rawset(L, 4);
        }
        lua_settop(L, 3);
    }
    lua_rawset(L, 1);
    return 0;
}

void netstack_lazy_table_materialize(lua_State *L, int t) {
    t = lua_absindex(L, t);
    if (lua_type(L, t) != LUA_TTABLE || !lua_getmetatable(L, t)) return;
    int mt = lua_gettop(L);
    const netstack_lazy_spec *spec = spec_in(L, mt);
    if (!spec) {
        lua_pop(L, 1);
        return;
    }
    for (int i = 0; i < spec->count; i++) {
        lua_pushstring(L, spec->names[i]);
        int made = lua_rawget(L, mt) != LUA_TNIL;
        lua_pop(L, 1);
        if (!made) {
            make_entry(L, t, mt, spec, i);
            lua_pop(L, 1);
        }
    }
    lua_pushliteral(L, "__lazyspec");
    lua_pushnil(L);
    lua_rawset(L, mt);
    lua_pushliteral(L, "__fallback");
    if (lua_rawget(L, mt) == LUA_TNIL) {
        lua_pushnil(L);
        lua_setmetatable(L, t);
    }
    lua_pop(L, 2);
}

void netstack_lazy_tables_materialize_all(lua_State *L) {
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &tables_key) != LUA_TTABLE) {
        lua_pop(L, 1);
        return;
    }
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        netstack_lazy_table_materialize(L, -1);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static int lazy_pairs(lua_State *L) {
    netstack_lazy_table_materialize(L, 1);
    lua_pushcfunction(L, netstack_raw_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

static int new_table(lua_State *L) {
    const netstack_lazy_spec *spec = (const netstack_lazy_spec *)lua_touserdata(L, 1);
    lua_createtable(L, 0, 0);
    lua_createtable(L, 0, 4);
    lua_pushcfunction(L, lazy_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, lazy_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, lazy_pairs);
    lua_setfield(L, -2, "__pairs");
    lua_pushlightuserdata(L, (void *)spec);
    lua_setfield(L, -2, "__lazyspec");
    lua_setmetatable(L, -2);
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &tables_key) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_createtable(L, 4, 0);
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &tables_key);
    }
    lua_pushvalue(L, -2);
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    lua_pop(L, 1);
    /* Once debug is open a script could find the metatable: tables made from then on are whole. */
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    int debug_open = lua_getfield(L, -1, LUA_DBLIBNAME) != LUA_TNIL;
    lua_pop(L, 2);
    if (debug_open) netstack_lazy_table_materialize(L, -1);
    return 1;
}

int netstack_lazy_table_new(lua_State *L, const netstack_lazy_spec *spec) {
    lua_pushcfunction(L, new_table);
    lua_pushlightuserdata(L, (void *)spec);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        lua_pop(L, 1);
        return 0;
    }
    return 1;
}
