/* Standard libraries opened on first use, for states made by the thousand (load runs).
 *
 * base, package and string are opened at once (string also gives strings their methods).
 * table, coroutine, io, os, math, utf8 and debug are opened when a script first reads their global or
 * requires them: about 10 KiB of a fresh state's 20 KiB of libraries, most of which a bot never
 * touches. A metatable on the global table opens them (__index); anything that could observe the
 * difference ends lazy mode by opening all of them and removing that metatable first: pairs(_G)
 * (__pairs), getmetatable(_G) and setmetatable(_G, ...) (the two base functions are replaced by
 * ones that do this, and otherwise behave as Lua's), and opening debug. From then on the state is
 * like one made by luaL_openlibs. The host's lazy tables (netstack_lazy_tables.c) are made whole
 * by the same three, and by opening debug. What stays visible: rawget(_G, name) and package.loaded[name]
 * are nil for a library not yet used. */
#include "netstack_lua_bridge.h"
#include <string.h>

static const luaL_Reg eager_libs[] = {
    {LUA_GNAME, luaopen_base}, {LUA_LOADLIBNAME, luaopen_package}, {LUA_STRLIBNAME, luaopen_string},
    {NULL, NULL}};

static const luaL_Reg lazy_libs[] = {
    {LUA_TABLIBNAME, luaopen_table}, {LUA_COLIBNAME, netstack_luaopen_coroutine}, {LUA_IOLIBNAME, luaopen_io}, {LUA_OSLIBNAME, netstack_luaopen_os},
    {LUA_MATHLIBNAME, luaopen_math}, {LUA_UTF8LIBNAME, luaopen_utf8}, {LUA_DBLIBNAME, luaopen_debug},
    {NULL, NULL}};

/* registry[&lazy_key]: the global table's lazy metatable while lazy mode lasts, else nil. */
static const char lazy_key = 0;

/* Pushes library `l`, opening it (package.loaded and the global) if it was not open yet. */
static void push_library(lua_State *L, const luaL_Reg *l) {
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, l->name);
    lua_remove(L, -2);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        luaL_requiref(L, l->name, l->func, 0);
    }
    /* _G[name] = library (raw: the global table may carry the lazy metatable) */
    lua_pushglobaltable(L);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, l->name);
    lua_pop(L, 1);
}

/* Ends lazy mode: every library open, the global table's metatable removed (if still ours). */
static void materialize(lua_State *L) {
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &lazy_key) == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    lua_pushnil(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &lazy_key);
    lua_pushglobaltable(L);
    if (lua_getmetatable(L, -1)) {
        if (lua_rawequal(L, -1, -3)) {
            lua_pushnil(L);
            lua_setmetatable(L, -3);
        }
        lua_pop(L, 1);
    }
    for (const luaL_Reg *l = lazy_libs; l->func; l++) {
        lua_pushstring(L, l->name);
        int present = lua_rawget(L, -2) != LUA_TNIL;
        lua_pop(L, 1);
        if (!present) {
            push_library(L, l);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 2);
    netstack_lazy_tables_materialize_all(L);  /* debug is open: no metatable of ours to find */
}

static int is_global_table(lua_State *L, int i) {
    lua_pushglobaltable(L);
    int same = lua_rawequal(L, i, -1);
    lua_pop(L, 1);
    return same;
}

/* Pushes the lazy library called `name` (opening it, or every one of them for debug) and returns
 * 1; returns 0 with nothing pushed when `name` is not one. */
static int push_lazy(lua_State *L, const char *name) {
    for (const luaL_Reg *l = lazy_libs; l->func; l++) {
        if (strcmp(name, l->name) != 0) continue;
        if (l->func == luaopen_debug) {
            materialize(L);
            lua_pushglobaltable(L);
            lua_getfield(L, -1, l->name);
            lua_remove(L, -2);
        } else {
            push_library(L, l);
        }
        return 1;
    }
    return 0;
}

/* __index of the global table: a lazy library's name opens it. */
static int lazy_index(lua_State *L) {
    if (lua_type(L, 2) == LUA_TSTRING && push_lazy(L, lua_tostring(L, 2))) return 1;
    lua_pushnil(L);
    return 1;
}

/* next without metamethods: what __pairs of a lazy table returns, once it is whole. */
int netstack_raw_next(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    if (lua_next(L, 1)) return 2;
    lua_pushnil(L);
    return 1;
}

/* __pairs of the global table: what pairs(_G) sees is the whole environment. */
static int lazy_pairs(lua_State *L) {
    materialize(L);
    lua_pushcfunction(L, netstack_raw_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* Lua 5.4's getmetatable and setmetatable (lbaselib.c), ending lazy mode first when given _G. */
static int lazy_getmetatable(lua_State *L) {
    luaL_checkany(L, 1);
    if (is_global_table(L, 1)) materialize(L);
    netstack_lazy_table_materialize(L, 1);
    if (!lua_getmetatable(L, 1)) {
        lua_pushnil(L);
        return 1;
    }
    luaL_getmetafield(L, 1, "__metatable");
    return 1;
}

static int lazy_setmetatable(lua_State *L) {
    int t = lua_type(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
    if (is_global_table(L, 1)) materialize(L);
    netstack_lazy_table_materialize(L, 1);
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
        return luaL_error(L, "cannot change a protected metatable");
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

/* require of a lazy library (package.preload): opens it and sets its global too. */
static int lazy_preload(lua_State *L) {
    return push_lazy(L, luaL_checkstring(L, 1));
}

void netstack_openlibs_lazy(lua_State *L) {
    for (const luaL_Reg *l = eager_libs; l->func; l++) {
        luaL_requiref(L, l->name, l->func, 1);
        lua_pop(L, 1);
    }
    netstack_set_line_print(L);
    lua_pushcfunction(L, lazy_getmetatable);
    lua_setglobal(L, "getmetatable");
    lua_pushcfunction(L, lazy_setmetatable);
    lua_setglobal(L, "setmetatable");
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    for (const luaL_Reg *l = lazy_libs; l->func; l++) {
        lua_pushcfunction(L, lazy_preload);
        lua_setfield(L, -2, l->name);
    }
    lua_pop(L, 1);
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, lazy_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, lazy_pairs);
    lua_setfield(L, -2, "__pairs");
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &lazy_key);
    lua_pushglobaltable(L);
    lua_insert(L, -2);
    lua_setmetatable(L, -2);
    lua_pop(L, 1);
}
