#include "netstack_lua_bridge.h"
#include <pthread.h>
#include <signal.h>
#include <string.h>

/* Stopping Lua code that never gives its thread back: see netstack_lua_bridge.h. */

__thread lua_State *netstack_running_state __attribute__((tls_model("initial-exec"))) = NULL;

static const char interrupt_unwind = 0;

int netstack_is_interrupt_unwind(lua_State *L, int idx) {
    return lua_type(L, idx) == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == (void *)&interrupt_unwind;
}

void netstack_flag_store(volatile int *flag, int value) { __atomic_store_n(flag, value, __ATOMIC_RELEASE); }
int netstack_flag_load(volatile int *flag) { return __atomic_load_n(flag, __ATOMIC_ACQUIRE); }

static int stopping(lua_State *L) {
    volatile int *flag = netstack_interrupt_flag(L);
    return flag != NULL && netstack_flag_load(flag);
}

static void raise_interrupt(lua_State *L) {
    lua_pushlightuserdata(L, (void *)&interrupt_unwind);
    lua_error(L);
}

static void interrupt_hook(lua_State *L, lua_Debug *ar) {
    if (!stopping(L)) {
        netstack_restore_hook(L);
        return;
    }
    /* The host's message handler runs as the error unwinds: raising in it would turn the
     * object into "error in error handling". */
    if (ar->event == LUA_HOOKCALL && lua_getinfo(L, "f", ar)) {
        int handler = netstack_is_msghandler(lua_tocfunction(L, -1));
        lua_pop(L, 1);
        if (handler) return;
    }
    raise_interrupt(L);
}

static void arm(lua_State *L) {
    lua_sethook(L, interrupt_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* The signal handler: only lua_sethook, which Lua allows in one (lua.c stops a script so). */
static void on_signal(int sig) {
    (void)sig;
    lua_State *L = netstack_running_state;
    if (L != NULL) arm(L);
}

static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static int install_status = -1;

static void install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    install_status = sigaction(SIGURG, &sa, NULL);
}

int netstack_vm_interrupt_install(void) {
    pthread_once(&install_once, install);
    return install_status;
}

int netstack_vm_interrupt_thread(unsigned long thread) { return pthread_kill((pthread_t)thread, SIGURG); }

unsigned long netstack_current_thread(void) { return (unsigned long)pthread_self(); }

/* After a coroutine's code ended with the interruption, the caller goes on unwinding: the
 * coroutine's own error would otherwise be a value the script's code receives and ignores. */
static void propagate_if_interrupted(lua_State *L, lua_State *co) {
    if (stopping(L) || (co != NULL && stopping(co))) {
        arm(L);
        raise_interrupt(L);
    }
}

/* Calls Lua's own function (upvalue 1) with the n arguments on the stack, in protected mode,
 * with co as the running state meanwhile. On an interruption, the caller is armed too (a pcall
 * of the script's cannot keep it). */
static int call_as_running(lua_State *L, lua_State *co) {
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_State *outer = netstack_running_state;
    if (co != NULL) netstack_running_state = co;
    int status = lua_pcall(L, n, LUA_MULTRET, 0);
    netstack_running_state = outer;
    if (status != LUA_OK && netstack_is_interrupt_unwind(L, -1)) arm(L);
    return status;
}

/* coroutine.resume(co, ...): Lua's own, with co as the running state meanwhile. */
static int tracked_resume(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTHREAD);
    lua_State *co = lua_tothread(L, 1);
    if (call_as_running(L, co) != LUA_OK) return lua_error(L);
    /* false, the interruption: the coroutine was stopped; so is its caller. */
    if (lua_gettop(L) >= 2 && lua_toboolean(L, 1) == 0 && netstack_is_interrupt_unwind(L, 2)) propagate_if_interrupted(L, co);
    return lua_gettop(L);
}

/* The function coroutine.wrap returns: Lua's own, with its coroutine as the running state. */
static int tracked_wrapped(lua_State *L) {
    int status = call_as_running(L, lua_tothread(L, lua_upvalueindex(2)));
    if (status != LUA_OK) {
        /* Lua's wrap puts where it was called before a message; called from here, it found no
         * place (a C function), so the caller's place is added here, as Lua's would have. */
        if (status != LUA_ERRMEM && lua_type(L, -1) == LUA_TSTRING) {
            luaL_where(L, 1);
            lua_insert(L, -2);
            lua_concat(L, 2);
        }
        return lua_error(L);
    }
    return lua_gettop(L);
}

/* coroutine.wrap(f): Lua's own function, wrapped; its coroutine is the first upvalue of the
 * function Lua returns. */
static int tracked_wrap(lua_State *L) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    if (lua_getupvalue(L, -1, 1) == NULL) lua_pushnil(L);
    if (!lua_isthread(L, -1)) {
        lua_pop(L, 1);
        return 1;  /* not the function this Lua makes: left as it is */
    }
    lua_pushcclosure(L, tracked_wrapped, 2);
    return 1;
}

void netstack_track_coroutines(lua_State *L) {
    if (lua_type(L, -1) != LUA_TTABLE) return;
    netstack_wrap_field(L, "resume", tracked_resume);
    netstack_wrap_field(L, "wrap", tracked_wrap);
}

int netstack_luaopen_coroutine(lua_State *L) {
    luaopen_coroutine(L);
    netstack_track_coroutines(L);
    return 1;
}
