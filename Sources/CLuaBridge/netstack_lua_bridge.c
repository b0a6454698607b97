#include "netstack_lua_bridge.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <limits.h>

/* Bytes that many states together may still allocate (netstack_pool_new). Each state takes from
 * it in chunks, so the shared counter is touched once per chunk, not once per allocation. */
struct netstack_pool {
    _Atomic long long available;
    size_t total;
};

/* Small enough that 50,000 idle VUs hold little beyond their use (under 32 KiB each), large
 * enough that a state allocating and freeing messages touches the shared counter once per
 * hundreds of them. */
#define POOL_CHUNK ((size_t)16 << 10)

typedef struct {
    size_t used;
    size_t limit;
    int hit;              /* 1: this state's limit refused an allocation; 2: the pool's */
    netstack_pool *pool;  /* shared with other states, or NULL */
    size_t reserved;      /* bytes taken from the pool (at least `used` while Lua code runs) */
    int enforce;          /* the limit applies only while Lua code runs, never inside Swift frames */
    long long budget;
    long long remaining;
    void *owner;          /* the Swift LuaVM (unretained), NULL once it is gone */
    volatile int *interrupt_flag;  /* owned by the host; non-zero: Lua code here is to stop (netstack_interrupt.c) */
} netstack_ud;

static netstack_ud *get_ud(lua_State *L) {
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return (netstack_ud *)ud;
}

static int trampoline(lua_State *L) {
    netstack_swift_fn fn = (netstack_swift_fn)lua_touserdata(L, lua_upvalueindex(1));
    void *ctx = lua_touserdata(L, lua_upvalueindex(2));
    netstack_ud *u = get_ud(L);
    int saved = u->enforce;
    u->enforce = 0;
    int n = fn(L, ctx);
    u->enforce = saved;
    if (n < 0) return lua_error(L);
    if (u->limit && u->used > u->limit) {
        u->hit = 1;
        return luaL_error(L, "not enough memory (limit of %d KiB reached)", (int)(u->limit / 1024));
    }
    if (u->pool && atomic_load_explicit(&u->pool->available, memory_order_relaxed) < 0) {
        u->hit = 2;
        return luaL_error(L, "not enough memory (the shared limit of %d KiB is reached)", (int)(u->pool->total / 1024));
    }
    return n;
}

int netstack_enforce_suspend(lua_State *L) {
    netstack_ud *u = get_ud(L);
    int saved = u->enforce;
    u->enforce = 0;
    return saved;
}

void netstack_enforce_restore(lua_State *L, int saved) { get_ud(L)->enforce = saved; }

void netstack_push_swift_function(lua_State *L, netstack_swift_fn fn, void *context) {
    lua_pushlightuserdata(L, (void *)fn);
    lua_pushlightuserdata(L, context);
    lua_pushcclosure(L, trampoline, 2);
}

/* os.exit in a host's state (netstack_lua_bridge.h). */
static const char host_exit_key = 0;
static const char exit_unwind = 0;

void netstack_push_exit_unwind(lua_State *L) { lua_pushlightuserdata(L, (void *)&exit_unwind); }

static int host_os_exit(lua_State *L) {
    int n = lua_gettop(L);
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &host_exit_key) != LUA_TFUNCTION) {
        /* No host: Lua's own os.exit (its upvalue). */
        lua_pop(L, 1);
        lua_pushvalue(L, lua_upvalueindex(1));
        lua_insert(L, 1);
        lua_call(L, n, 0);
        return 0;
    }
    if (n == 0) lua_pushnil(L); else lua_pushvalue(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {  /* os.exit("3") is 3, as in Lua */
        int isnum = 0;
        lua_Integer v = lua_tointegerx(L, -1, &isnum);
        if (isnum) { lua_pop(L, 1); lua_pushinteger(L, v); }
    }
    lua_call(L, 1, 0);  /* the host's exit: raises for a status it refuses */
    netstack_push_exit_unwind(L);
    return lua_error(L);
}

void netstack_wrap_field(lua_State *L, const char *name, lua_CFunction wrapper) {
    lua_getfield(L, -1, name);
    lua_pushcclosure(L, wrapper, 1);
    lua_setfield(L, -2, name);
}

void netstack_patch_os_exit(lua_State *L) { netstack_wrap_field(L, "exit", host_os_exit); }

int netstack_luaopen_os(lua_State *L) {
    luaopen_os(L);
    netstack_patch_os_exit(L);
    return 1;
}

static int line_print(lua_State *L) {
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1) luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_addchar(&b, '\n');
    luaL_pushresult(&b);
    size_t len;
    const char *line = lua_tolstring(L, -1, &len);
    fwrite(line, 1, len, stdout);
    fflush(stdout);
    return 0;
}

void netstack_set_line_print(lua_State *L) {
    lua_pushcfunction(L, line_print);
    lua_setglobal(L, "print");
}

void netstack_set_host_exit(lua_State *L) { lua_rawsetp(L, LUA_REGISTRYINDEX, &host_exit_key); }

int netstack_is_exit_unwind(lua_State *L, int idx) {
    return lua_type(L, idx) == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == (void *)&exit_unwind;
}

static int message_run_caller(lua_State *L) {
    netstack_message_run *run = (netstack_message_run *)lua_touserdata(L, 5);
    const void *data;
    size_t length;
    int binary;
    while (run->next(run->context, &data, &length, &binary)) {
        lua_pushvalue(L, 1);
        lua_pushvalue(L, 2);
        lua_pushlstring(L, (const char *)data, length);
        lua_pushinteger(L, (lua_Integer)length);
        lua_pushvalue(L, binary ? 4 : 3);
        if (run->reset_budget) netstack_reset_instruction_budget(L);
        lua_call(L, 4, 0);
    }
    return 0;
}

void netstack_push_message_run_caller(lua_State *L) { lua_pushcfunction(L, message_run_caller); }

/* Whether the outermost function of L's calls is message_run_caller: its line ("[C]: in ?") is
 * then left out of a traceback, which reads as it does for a callback called on its own. */
static int called_by_message_run(lua_State *L) {
    lua_Debug ar;
    int level = 1;
    while (lua_getstack(L, level, &ar)) level++;
    if (level < 2 || !lua_getstack(L, level - 1, &ar) || !lua_getinfo(L, "f", &ar)) return 0;
    int is = lua_tocfunction(L, -1) == message_run_caller;
    lua_pop(L, 1);
    return is;
}

static int msghandler(lua_State *L) {
    if (netstack_is_exit_unwind(L, 1)) return 1;  /* os.exit unwinding: not an error */
    if (netstack_is_interrupt_unwind(L, 1)) return 1;  /* stopped from outside: not an error */
    const char *msg = lua_tostring(L, 1);
    /* A message that already carries a traceback (a spawned function's, raised again by whatever
     * resumed it) gets no second one of the frames that resumed it. */
    if (msg != NULL && lua_type(L, 1) == LUA_TSTRING && strstr(msg, "\nstack traceback:\n") != NULL) return 1;
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    int drop_last = called_by_message_run(L);
    luaL_traceback(L, L, msg, 1);
    if (drop_last) {
        size_t n;
        const char *t = lua_tolstring(L, -1, &n);
        const char *last = NULL;
        for (const char *p = t; (p = strstr(p, "\n\t")) != NULL; p += 2) last = p;
        if (last != NULL) {
            lua_pushlstring(L, t, (size_t)(last - t));
            lua_remove(L, -2);
        }
    }
    return 1;
}

int netstack_pcall_traceback(lua_State *L, int nargs, int nresults) {
    int base = lua_gettop(L) - nargs;
    netstack_ud *u = get_ud(L);
    int saved = u->enforce;
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    u->enforce = 1;
    lua_State *outer = netstack_running_state;
    netstack_running_state = L;
    int status = lua_pcall(L, nargs, nresults, base);
    netstack_running_state = outer;
    u->enforce = saved;
    lua_remove(L, base);
    return status;
}

int netstack_is_msghandler(lua_CFunction f) { return f == msghandler; }

void netstack_install_msghandler(lua_State *L) {
    lua_settop(L, 0);
    lua_pushcfunction(L, msghandler);
}

int netstack_pcall_base(lua_State *L, int nargs, int nresults) {
    if (lua_gettop(L) < nargs + 2 || lua_tocfunction(L, 1) != msghandler)
        return netstack_pcall_traceback(L, nargs, nresults);
    netstack_ud *u = get_ud(L);
    int saved = u->enforce;
    u->enforce = 1;
    lua_State *outer = netstack_running_state;
    netstack_running_state = L;
    int status = lua_pcall(L, nargs, nresults, 1);
    netstack_running_state = outer;
    u->enforce = saved;
    return status;
}

/* Entry threads: an iteration's entry point (and a plain run's main) runs in a coroutine of its
 * own, so it may wait as a spawned function does. The thread's extra space holds this mark (a
 * thread made by lua_newthread copies the main thread's extra space, which stays NULL). */
static const char entry_mark = 0;
static const char wait_mark = 0;

void netstack_push_wait_mark(lua_State *L) { lua_pushlightuserdata(L, (void *)&wait_mark); }

int netstack_is_entry_thread(lua_State *co) {
    return *(const void **)lua_getextraspace(co) == (const void *)&entry_mark;
}

static int is_entry_thread(lua_State *L) {
    lua_State *co = lua_tothread(L, 1);
    lua_pushboolean(L, co != NULL && netstack_is_entry_thread(co));
    return 1;
}

void netstack_push_is_entry_thread(lua_State *L) { lua_pushcfunction(L, is_entry_thread); }

/* The VM's entry thread, made once and kept in the registry (a thread is about 1 KiB: made per
 * iteration and left as garbage, an idle VU would keep one until a collection). A new one
 * replaces it while it still waits (an iteration interrupted during a wait) or runs. */
static lua_State *entry_thread(lua_State *L) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, &entry_mark);
    lua_State *co = lua_tothread(L, -1);
    if (co != NULL && co != netstack_running_state && lua_status(co) == LUA_OK && lua_gettop(co) == 0) return co;
    lua_pop(L, 1);
    co = lua_newthread(L);
    *(const void **)lua_getextraspace(co) = (const void *)&entry_mark;
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &entry_mark);
    return co;
}

int netstack_resume_entry(lua_State *L, int nargs) {
    lua_State *co = entry_thread(L);
    lua_insert(L, -(nargs + 2));
    lua_xmove(L, co, nargs + 1);
    netstack_ud *u = get_ud(L);
    int saved = u->enforce;
    u->enforce = 1;
    lua_State *outer = netstack_running_state;
    netstack_running_state = co;
    int nres = 0;
    int status = lua_resume(co, L, nargs, &nres);
    netstack_running_state = outer;
    u->enforce = saved;
    if (status == LUA_OK || status == LUA_YIELD) {
        int waits = status == LUA_YIELD && nres >= 1 && lua_type(co, -1) == LUA_TLIGHTUSERDATA
            && lua_touserdata(co, -1) == (void *)&wait_mark;
        lua_pop(co, nres);
        if (status == LUA_OK) lua_closethread(co, L);  /* back to its smallest stack, for the next entry */
        lua_pop(L, 1);  /* the thread: the registry, and whatever it waits for, hold it */
        if (status == LUA_YIELD && !waits) {
            lua_pushliteral(L, "the function yielded by itself (coroutine.yield outside a coroutine of its "
                "own); wait with netstack.sleep, netstack.connect, ws:receive or netstack.select");
            return LUA_ERRRUN;
        }
        return status;
    }
    /* An error: the message with the coroutine's traceback (the exit and interrupt markers as
     * they are), on L's top; the thread's to-be-closed variables are closed. */
    if (netstack_is_exit_unwind(co, -1) || netstack_is_interrupt_unwind(co, -1)) {
        lua_xmove(co, L, 1);
    } else if (lua_type(co, -1) == LUA_TSTRING || lua_type(co, -1) == LUA_TNUMBER) {
        const char *msg = lua_tostring(co, -1);
        if (strstr(msg, "\nstack traceback:\n") != NULL) lua_xmove(co, L, 1);
        else luaL_traceback(L, co, msg, 0);
    } else if (luaL_callmeta(co, -1, "__tostring") && lua_type(co, -1) == LUA_TSTRING) {
        luaL_traceback(L, co, lua_tostring(co, -1), 0);
    } else {
        lua_pushfstring(L, "(error object is a %s value)", luaL_typename(co, -1));
        luaL_traceback(L, co, lua_tostring(L, -1), 0);
        lua_remove(L, -2);
    }
    lua_closethread(co, L);
    lua_remove(L, -2);  /* the thread */
    return status;
}

int netstack_dofile(lua_State *L, const char *path, int nargs) {
    int status = luaL_loadfile(L, path);
    if (status != LUA_OK) {
        lua_insert(L, -(nargs + 1));
        lua_pop(L, nargs);  /* drop args, keep message */
        return status;
    }
    lua_insert(L, -(nargs + 1));
    return netstack_pcall_traceback(L, nargs, 0);
}

/* Takes what the state's use of `need` bytes lacks from its pool, in whole chunks. Returns 0 when
 * the pool has too little and the allocation is to be refused (only while Lua code runs: outside
 * it the pool may go below zero, and the next return to Lua raises). */
static int pool_take(netstack_ud *u, size_t need) {
    size_t take = ((need - u->reserved) + POOL_CHUNK - 1) / POOL_CHUNK * POOL_CHUNK;
    long long before = atomic_fetch_sub_explicit(&u->pool->available, (long long)take, memory_order_relaxed);
    if (before < (long long)take && u->enforce) {
        atomic_fetch_add_explicit(&u->pool->available, (long long)take, memory_order_relaxed);
        return 0;
    }
    u->reserved += take;
    return 1;
}

/* Gives back what the state holds beyond its use and one spare chunk, once that is two chunks. */
static void pool_trim(netstack_ud *u) {
    if (u->reserved < u->used + 2 * POOL_CHUNK) return;
    size_t give = (u->reserved - u->used - POOL_CHUNK) / POOL_CHUNK * POOL_CHUNK;
    u->reserved -= give;
    atomic_fetch_add_explicit(&u->pool->available, (long long)give, memory_order_relaxed);
}

static void *alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    netstack_ud *u = (netstack_ud *)ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        u->used -= old;
        if (u->pool) pool_trim(u);
        return NULL;
    }
    if (u->enforce && u->limit && nsize > old && u->used + (nsize - old) > u->limit) {
        u->hit = 1;
        return NULL;
    }
    if (u->pool && nsize > old && u->used - old + nsize > u->reserved && !pool_take(u, u->used - old + nsize)) {
        u->hit = 2;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p) {
        u->used = u->used - old + nsize;
        if (u->pool && nsize < old) pool_trim(u);
    } else if (!u->enforce) {
        /* Outside Lua code (Swift functions and host calls building values) an allocation failure
         * would raise a Lua error through Swift frames, which is undefined behaviour. Out of
         * memory there ends the process, as it does for Swift's own allocations. */
        fputs("netstack: out of memory outside Lua code\n", stderr);
        abort();
    }
    return p;
}

void netstack_openlibs_lazy(lua_State *L);

static lua_State *newstate(size_t memory_limit, int lazy) {
    netstack_ud *u = calloc(1, sizeof(netstack_ud));
    if (!u) return NULL;
    lua_State *L = lua_newstate(alloc, u);
    if (!L) { free(u); return NULL; }
    if (lazy) {
        netstack_openlibs_lazy(L);
    } else {
        luaL_openlibs(L);
        netstack_set_line_print(L);
        lua_getglobal(L, LUA_OSLIBNAME);
        netstack_patch_os_exit(L);
        lua_pop(L, 1);
        lua_getglobal(L, LUA_COLIBNAME);
        netstack_track_coroutines(L);
        lua_pop(L, 1);
    }
    u->limit = memory_limit;
    return L;
}

lua_State *netstack_newstate(size_t memory_limit) { return newstate(memory_limit, 0); }
lua_State *netstack_newstate_lazy(size_t memory_limit) { return newstate(memory_limit, 1); }

void netstack_close(lua_State *L) {
    netstack_ud *u = get_ud(L);
    lua_close(L);
    if (u->pool) atomic_fetch_add_explicit(&u->pool->available, (long long)u->reserved, memory_order_relaxed);
    free(u);
}

netstack_pool *netstack_pool_new(size_t bytes) {
    netstack_pool *pool = calloc(1, sizeof(netstack_pool));
    if (!pool) return NULL;
    long long limit = bytes > (size_t)LLONG_MAX ? LLONG_MAX : (long long)bytes;
    atomic_init(&pool->available, limit);
    pool->total = bytes;
    return pool;
}
void netstack_pool_free(netstack_pool *pool) { free(pool); }
long long netstack_pool_available(netstack_pool *pool) {
    return atomic_load_explicit(&pool->available, memory_order_relaxed);
}
void netstack_set_memory_pool(lua_State *L, netstack_pool *pool) {
    netstack_ud *u = get_ud(L);
    u->pool = pool;
    u->reserved = 0;
    if (pool) {
        /* What the state holds already (its libraries) is taken now, whatever the pool has. */
        int saved = u->enforce;
        u->enforce = 0;
        if (u->used > 0) pool_take(u, u->used);
        u->enforce = saved;
    }
}

size_t netstack_memory_used(lua_State *L) { return get_ud(L)->used; }
void netstack_set_owner(lua_State *L, void *owner) { get_ud(L)->owner = owner; }
void *netstack_owner(lua_State *L) { return get_ud(L)->owner; }

void netstack_gc_collect(lua_State *L) { lua_gc(L, LUA_GCCOLLECT); }

/* Generational with a major multiplier of 200 (Lua's default is 100): at 100, a client receiving
 * 64 KiB messages spent a quarter of its time in back-to-back major collections (docs/performance.md,
 * session 67); from 200 up they are gone, at the same peak RSS. The minor multiplier stays Lua's. */
void netstack_set_gc_mode(lua_State *L, int generational) {
    if (generational) lua_gc(L, LUA_GCGEN, 0, 200);
    else lua_gc(L, LUA_GCINC, 0, 0, 0);
}
void netstack_set_memory_limit(lua_State *L, size_t limit) { get_ud(L)->limit = limit; }
int netstack_memory_limit_hit(lua_State *L) {
    netstack_ud *u = get_ud(L);
    int h = u->hit;
    u->hit = 0;
    return h;
}

static void count_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    netstack_ud *u = get_ud(L);
    u->remaining -= 1000;
    if (u->remaining <= 0) {
        u->remaining = u->budget;  /* so the error handler itself can run */
        luaL_error(L, "instruction budget exceeded (%I instructions); the script looks stuck", (lua_Integer)u->budget);
    }
}

void netstack_set_instruction_budget(lua_State *L, long long count) {
    netstack_ud *u = get_ud(L);
    u->budget = count;
    u->remaining = count;
    if (count > 0) lua_sethook(L, count_hook, LUA_MASKCOUNT, 1000);
    else lua_sethook(L, NULL, 0, 0);
}

void netstack_restore_hook(lua_State *L) {
    netstack_ud *u = get_ud(L);
    if (u->budget > 0) lua_sethook(L, count_hook, LUA_MASKCOUNT, 1000);
    else lua_sethook(L, NULL, 0, 0);
}

void netstack_set_interrupt_flag(lua_State *L, volatile int *flag) { get_ud(L)->interrupt_flag = flag; }
volatile int *netstack_interrupt_flag(lua_State *L) { return get_ud(L)->interrupt_flag; }

void netstack_reset_instruction_budget(lua_State *L) {
    netstack_ud *u = get_ud(L);
    u->remaining = u->budget;
}

static int getfield_protected(lua_State *L) {
    lua_getfield(L, 1, lua_tostring(L, 2));
    return 1;
}

int netstack_getfield_protected(lua_State *L, int index, const char *name) {
    index = lua_absindex(L, index);
    lua_pushcfunction(L, getfield_protected);
    lua_pushvalue(L, index);
    lua_pushstring(L, name);
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
        lua_pop(L, 1);
        lua_pushnil(L);
        return LUA_TNIL;
    }
    return lua_type(L, -1);
}

static int ref_protected(lua_State *L) {
    lua_pushvalue(L, 1);
    lua_pushinteger(L, luaL_ref(L, LUA_REGISTRYINDEX));
    return 1;
}

int netstack_ref(lua_State *L) {
    /* value on top */
    lua_pushcfunction(L, ref_protected);
    lua_insert(L, -2);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        lua_pop(L, 1);
        return LUA_NOREF;
    }
    int ref = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return ref;
}

void netstack_unref(lua_State *L, int ref) {
    if (ref != LUA_NOREF && ref != LUA_REFNIL) luaL_unref(L, LUA_REGISTRYINDEX, ref);
}
