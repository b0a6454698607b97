/* Stands in for the plugin runtime until first use (LazyPluginRuntime.swift): a require searcher
 * in the runtime's place (package.searchers[2]) and a metatable on the netstack module that
 * answers `plugins`. The first use removes both stand-ins, then calls the loader (a host function
 * that loads the runtime once and returns its searcher). In C so that a state that never uses
 * plugins pays two closures and a table for it (a compiled Lua stand-in cost 2 KiB per state).
 * Upvalues of both closures: 1 the loader, 2 the netstack module, 3 the stand-in metatable. */
#include "netstack_lua_bridge.h"
#include <string.h>

static int stub_searcher(lua_State *L);

/* Pushes the package table's searchers list and returns 1; or pushes nothing and returns 0. */
static int push_searchers(lua_State *L) {
    int top = lua_gettop(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    if (lua_getfield(L, -1, LUA_LOADLIBNAME) == LUA_TTABLE && lua_getfield(L, -1, "searchers") == LUA_TTABLE) {
        lua_replace(L, top + 1);
        lua_settop(L, top + 1);
        return 1;
    }
    lua_settop(L, top);
    return 0;
}

static void remove_stand_ins(lua_State *L) {
    int top = lua_gettop(L);
    if (push_searchers(L)) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1), j = 1;
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, i);
            if (lua_tocfunction(L, -1) == stub_searcher) lua_pop(L, 1);
            else lua_rawseti(L, -2, j++);
        }
        for (; j <= n; j++) {
            lua_pushnil(L);
            lua_rawseti(L, -2, j);
        }
    }
    lua_settop(L, top);
    lua_pushvalue(L, lua_upvalueindex(2));
    if (lua_getmetatable(L, -1)) {
        if (lua_rawequal(L, -1, lua_upvalueindex(3))) {
            lua_pushliteral(L, "__lazyspec");
            if (lua_rawget(L, -2) != LUA_TNIL) {
                /* A lazy module table's metatable: only the fallback goes. */
                lua_pushliteral(L, "__fallback");
                lua_pushnil(L);
                lua_rawset(L, -4);
            } else {
                lua_pushnil(L);
                lua_setmetatable(L, -4);
            }
        }
    }
    lua_settop(L, top);
}

/* package.searchers entry: loads the runtime, then asks its searcher. */
static int stub_searcher(lua_State *L) {
    lua_settop(L, 1);
    remove_stand_ins(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_call(L, 0, 1);
    lua_pushvalue(L, 1);
    lua_call(L, 1, LUA_MULTRET);
    return lua_gettop(L) - 1;
}

/* __index of the netstack module: `plugins` loads the runtime, which sets it. */
static int stub_index(lua_State *L) {
    if (lua_type(L, 2) == LUA_TSTRING && strcmp(lua_tostring(L, 2), "plugins") == 0) {
        remove_stand_ins(L);
        lua_pushvalue(L, lua_upvalueindex(1));
        lua_call(L, 0, 0);
        lua_pushstring(L, "plugins");
        lua_rawget(L, 1);
        return 1;
    }
    lua_pushnil(L);
    return 1;
}

void netstack_install_plugin_stub(lua_State *L) {
    int loader = lua_gettop(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, "netstack");
    int ns = lua_gettop(L);
    /* A lazy module table (netstack_lazy_tables.c) keeps its metatable and asks the stand-in
     * through __fallback; a plain one gets the stand-in's metatable. */
    int lazy = 0;
    if (lua_getmetatable(L, ns)) {
        lua_pushliteral(L, "__lazyspec");
        lazy = lua_rawget(L, -2) != LUA_TNIL;
        lua_pop(L, 1);
        if (!lazy) lua_pop(L, 1);
    }
    if (!lazy) lua_createtable(L, 0, 1);
    int meta = lua_gettop(L);
    lua_pushvalue(L, loader);
    lua_pushvalue(L, ns);
    lua_pushvalue(L, meta);
    lua_pushcclosure(L, stub_index, 3);
    lua_setfield(L, meta, lazy ? "__fallback" : "__index");
    lua_pushvalue(L, meta);
    lua_setmetatable(L, ns);
    if (push_searchers(L)) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        for (lua_Integer i = n; i >= 2; i--) {
            lua_rawgeti(L, -1, i);
            lua_rawseti(L, -2, i + 1);
        }
        lua_pushvalue(L, loader);
        lua_pushvalue(L, ns);
        lua_pushvalue(L, meta);
        lua_pushcclosure(L, stub_searcher, 3);
        lua_rawseti(L, -2, 2);
    }
    lua_settop(L, loader - 1);
}
