#ifndef NETSTACK_CLUA_SHIM_H
#define NETSTACK_CLUA_SHIM_H
/* Lua 5.4 (Debian liblua5.4-dev). Macros Swift cannot import get static inline wrappers here. */
#include <lua5.4/lua.h>
#include <lua5.4/lauxlib.h>
#include <lua5.4/lualib.h>

static inline int netstack_lua_pcall(lua_State *L, int nargs, int nresults, int msgh) {
    return lua_pcall(L, nargs, nresults, msgh);
}
static inline const char *netstack_lua_tostring(lua_State *L, int idx) { return lua_tostring(L, idx); }
static inline void netstack_lua_pop(lua_State *L, int n) { lua_pop(L, n); }
static inline void netstack_lua_newtable(lua_State *L) { lua_newtable(L); }
static inline int netstack_lua_upvalueindex(int i) { return lua_upvalueindex(i); }
static inline int netstack_lua_registryindex(void) { return LUA_REGISTRYINDEX; }
#endif
