/*
 * Machine memory for registration and heartbeats.  See sysinfo.h.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/sysinfo.h"

/* Return the value in bytes of "Key:   N kB" in a meminfo text, or -1. */
static int
meminfo_field(const char *text, const char *key, uint64_t *out)
{
	size_t klen = strlen(key);
	const char *p = text;
	unsigned long long kb;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
			if (sscanf(p + klen + 1, " %llu", &kb) != 1)
				return -1;
			*out = (uint64_t)kb * 1024;
			return 0;
		}
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return -1;
}

int
sysinfo_parse_meminfo(const char *text, uint64_t *total, uint64_t *available)
{
	uint64_t free_b = 0, buffers = 0, cached = 0;

	if (meminfo_field(text, "MemTotal", total) == -1)
		return -1;
	if (meminfo_field(text, "MemAvailable", available) == 0)
		return 0;
	/* Kernels before 3.14 lack MemAvailable: approximate it. */
	(void)meminfo_field(text, "MemFree", &free_b);
	(void)meminfo_field(text, "Buffers", &buffers);
	(void)meminfo_field(text, "Cached", &cached);
	*available = free_b + buffers + cached;
	return 0;
}

static int
sysinfo_ram(struct sysinfo_mem *m, const char *path)
{
	char buf[8192];
	size_t n;
	FILE *fp;

	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	return sysinfo_parse_meminfo(buf, &m->total_ram, &m->available_ram);
}

/* NVML's memory struct and the few entry points we need. */
struct nvml_memory {
	unsigned long long total, free, used;
};
typedef int (*nvml_init_fn)(void);
typedef int (*nvml_count_fn)(unsigned int *);
typedef int (*nvml_handle_fn)(unsigned int, void **);
typedef int (*nvml_mem_fn)(void *, struct nvml_memory *);

/*
 * NVIDIA GPUs: NVML is loaded only if the driver installed it, so the
 * binary has no link-time dependency on it.  The library stays loaded.
 */
static int
sysinfo_nvidia(struct sysinfo_mem *m)
{
	static void *lib;
	nvml_init_fn init;
	nvml_count_fn count;
	nvml_handle_fn handle;
	nvml_mem_fn mem;
	unsigned int i, n;

	if (lib == NULL &&
	    (lib = dlopen("libnvidia-ml.so.1", RTLD_NOW)) == NULL)
		return -1;
	*(void **)&init = dlsym(lib, "nvmlInit_v2");
	*(void **)&count = dlsym(lib, "nvmlDeviceGetCount_v2");
	*(void **)&handle = dlsym(lib, "nvmlDeviceGetHandleByIndex_v2");
	*(void **)&mem = dlsym(lib, "nvmlDeviceGetMemoryInfo");
	if (init == NULL || count == NULL || handle == NULL || mem == NULL)
		return -1;
	if (init() != 0 || count(&n) != 0 || n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		struct nvml_memory mi;
		void *h;

		if (handle(i, &h) != 0 || mem(h, &mi) != 0)
			continue;
		m->total_vram += mi.total;
		m->available_vram += mi.free;
	}
	snprintf(m->gpu_vendor, sizeof(m->gpu_vendor), "nvidia");
	return 0;
}

static int
read_u64(const char *path, uint64_t *out)
{
	unsigned long long v;
	FILE *fp;
	int ok;

	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	ok = fscanf(fp, "%llu", &v) == 1;
	fclose(fp);
	if (!ok)
		return -1;
	*out = v;
	return 0;
}

/* AMD GPUs: amdgpu exposes VRAM totals and use in sysfs. */
static int
sysinfo_amd(struct sysinfo_mem *m)
{
	char path[512];
	struct dirent *de;
	uint64_t total, used;
	DIR *d;
	int found = 0;

	if ((d = opendir("/sys/class/drm")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "card", 4) != 0 ||
		    strchr(de->d_name, '-') != NULL)
			continue;
		snprintf(path, sizeof(path),
		    "/sys/class/drm/%s/device/mem_info_vram_total", de->d_name);
		if (read_u64(path, &total) == -1)
			continue;
		snprintf(path, sizeof(path),
		    "/sys/class/drm/%s/device/mem_info_vram_used", de->d_name);
		if (read_u64(path, &used) == -1)
			used = 0;
		m->total_vram += total;
		m->available_vram += total > used ? total - used : 0;
		found = 1;
	}
	closedir(d);
	if (found)
		snprintf(m->gpu_vendor, sizeof(m->gpu_vendor), "amd");
	return found ? 0 : -1;
}

int
sysinfo_read(struct sysinfo_mem *m, const char *meminfo_path)
{
	memset(m, 0, sizeof(*m));
	if (sysinfo_ram(m, meminfo_path) == -1)
		return -1;
	if (sysinfo_nvidia(m) == -1)
		(void)sysinfo_amd(m);
	return 0;
}
