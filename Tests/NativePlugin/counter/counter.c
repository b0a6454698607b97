/* A native module for a plugin (Tests/NativePlugin/counter/init.lua names it with
 * `native = "counter"`): counts the bytes its hook sees. Built by NativePluginTests with
 *   cc -shared -fPIC -I/usr/include/lua5.4 counter.c -o counter.so
 * (no -llua: the Lua functions come from the netstack process, as for any C module). */
#include <lauxlib.h>
#include <lua.h>

static lua_Integer messages = 0, bytes = 0;

/* after("send", fn): fn(client, data, kind, rc) */
static int on_send(lua_State *L) {
    size_t len = 0;
    luaL_checklstring(L, 2, &len);
    messages++;
    bytes += (lua_Integer)len;
    return 0;
}

static int totals(lua_State *L) {
    lua_pushinteger(L, messages);
    lua_pushinteger(L, bytes);
    return 2;
}

int luaopen_counter(lua_State *L) {
    static const luaL_Reg functions[] = { { "onSend", on_send }, { "totals", totals }, { NULL, NULL } };
    luaL_newlib(L, functions);
    lua_pushstring(L, LUA_VERSION);
    lua_setfield(L, -2, "lua");
    return 1;
}
