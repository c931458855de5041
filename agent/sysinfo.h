/*
 * What a worker reports about its machine: RAM from /proc/meminfo and, when
 * present, GPU memory (NVIDIA through NVML loaded at run time, AMD through
 * amdgpu's sysfs files).  The agent never forks, so no vendor tool is run.
 */
#ifndef LOCALAI_SYSINFO_H
#define LOCALAI_SYSINFO_H

#include <stdint.h>

struct sysinfo_mem {
	uint64_t total_ram;
	uint64_t available_ram;
	uint64_t total_vram; /* 0 without a GPU */
	uint64_t available_vram;
	char gpu_vendor[16]; /* "nvidia", "amd" or "" */
};

/* Parse a /proc/meminfo text; returns 0 or -1 (no MemTotal). */
int sysinfo_parse_meminfo(
    const char *text, uint64_t *total, uint64_t *available);
/* Fill *m; RAM fields from path (normally /proc/meminfo). */
int sysinfo_read(struct sysinfo_mem *m, const char *meminfo_path);

#endif
