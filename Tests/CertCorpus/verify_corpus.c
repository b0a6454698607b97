/* Runs every case of a generated corpus (generate.py) through NetStack_VerifyCertificationEx
 * with NETSTACK_VERIFY_STRICT, the server purpose and security level 2 (what
 * `netstack verify --strict` sets), and prints "NAME CODE" per case.
 *   verify_corpus CORPUS_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netstack_ext.h"

static unsigned char *read_file(const char *dir, const char *name, const char *file, uint32_t *size) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s", dir, name, file);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *data = NULL;
    size_t used = 0, capacity = 0;
    for (;;) {
        if (used == capacity) {
            capacity = capacity ? capacity * 2 : 65536;
            unsigned char *grown = realloc(data, capacity);
            if (!grown) { free(data); fclose(f); return NULL; }
            data = grown;
        }
        size_t n = fread(data + used, 1, capacity - used, f);
        if (n == 0) break;
        used += n;
    }
    fclose(f);
    *size = (uint32_t)used;
    return data;
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: verify_corpus CORPUS_DIR\n"); return 2; }
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.tsv", argv[1]);
    FILE *manifest = fopen(path, "r");
    if (!manifest) { perror(path); return 2; }
    char line[2048];
    int cases = 0;
    while (fgets(line, sizeof line, manifest)) {
        char name[512], hostname[512], ip[128];
        long long time;
        int untrusted, crls;
        if (sscanf(line, "%511[^\t]\t%lld\t%511[^\t]\t%127[^\t]\t%d\t%d", name, &time, hostname, ip, &untrusted, &crls) != 6) {
            fprintf(stderr, "bad manifest line: %s", line);
            return 2;
        }
        uint32_t leaf_size = 0, roots_size = 0, untrusted_size = 0, crls_size = 0;
        unsigned char *leaf = read_file(argv[1], name, "leaf.pem", &leaf_size);
        unsigned char *roots = read_file(argv[1], name, "roots.pem", &roots_size);
        unsigned char *inter = untrusted ? read_file(argv[1], name, "untrusted.pem", &untrusted_size) : NULL;
        unsigned char *crl = crls ? read_file(argv[1], name, "crls.pem", &crls_size) : NULL;
        if (!leaf || !roots || (untrusted && !inter) || (crls && !crl)) { fprintf(stderr, "%s: unreadable files\n", name); return 2; }
        struct NetStack_CertBlob cert = { NetStack_CERT_TYPE_PEM, leaf_size, leaf };
        struct NetStack_CertBlob ca = { NetStack_CERT_TYPE_PEM, roots_size, roots };
        struct NetStack_CertBlob intermediates = { NetStack_CERT_TYPE_PEM, untrusted_size, inter };
        struct NetStack_CertBlob revocations = { NetStack_CERT_TYPE_PEM, crls_size, crl };
        struct NetStack_VerifyOptions options;
        NetStack_VerifyOptions_Init(&options);
        options.flags = NETSTACK_VERIFY_STRICT | NETSTACK_VERIFY_USE_TIME;
        options.time = time;
        options.purpose = NETSTACK_VERIFY_PURPOSE_SERVER;
        options.securityLevel = 2;
        if (strcmp(hostname, "-") != 0) options.hostname = hostname;
        if (strcmp(ip, "-") != 0) options.ipAddress = ip;
        if (untrusted) options.untrusted = &intermediates;
        if (crls) options.crls = &revocations;
        uint32_t code = NetStack_VerifyCertificationEx(&cert, &ca, &options, NULL, 0, NULL);
        printf("%s %u\n", name, (unsigned)code);
        free(leaf); free(roots); free(inter); free(crl);
        cases++;
    }
    fclose(manifest);
    return cases > 0 ? 0 : 2;
}
