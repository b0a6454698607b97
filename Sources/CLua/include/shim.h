#ifndef NETSTACK_CLUA_SHIM_H
#define NETSTACK_CLUA_SHIM_H
/* Lua 5.4 (the sources in this target). Macros Swift cannot import get static inline wrappers here. */
#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

static inline int netstack_lua_pcall(lua_State *L, int nargs, int nresults, int msgh) {
    return lua_pcall(L, nargs, nresults, msgh);
}
static inline const char *netstack_lua_tostring(lua_State *L, int idx) { return lua_tostring(L, idx); }
static inline void netstack_lua_pop(lua_State *L, int n) { lua_pop(L, n); }
static inline void netstack_lua_newtable(lua_State *L) { lua_newtable(L); }
static inline int netstack_lua_upvalueindex(int i) { return lua_upvalueindex(i); }
static inline int netstack_lua_registryindex(void) { return LUA_REGISTRYINDEX; }
#endif
