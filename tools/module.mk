# Packaging of shipped backends: the gallery the worker installs from.
#
# Every backend in $(BACKENDS) becomes $(BUILD)/gallery/<name>.tar.gz, a
# reproducible tarball of $(BUILD)/backends/<name>/ (run, metadata.json and
# any data files the backend puts there), and $(BUILD)/gallery/index.json
# lists name, version, capabilities, file, size and sha256 of each.
#
# This file is tools/module.mk so that it is included after every
# backends/<name>/module.mk (name order) and sees the whole BACKENDS list.
# A backend with data files lists them (as built paths under
# $(BUILD)/backends/<name>/, with its own rules to put them there) in
#   GALLERY_DATA_<name> := $(BUILD)/backends/<name>/voices.dat
# so that its package is rebuilt when they change.

$(eval $(call program,tools/gallery_index,tools/gallery_index.c, \
    $(call libs,jansson libcrypto)))

define gallery_pkg
$(BUILD)/gallery/$(1).tar.gz: $(BUILD)/backends/$(1)/run \
    $(BUILD)/backends/$(1)/metadata.json $(GALLERY_DATA_$(1)) \
    tools/gallery_pack.sh
	@mkdir -p $$(@D)
	sh tools/gallery_pack.sh $(BUILD)/backends/$(1) $$@
endef
$(foreach b,$(sort $(BACKENDS)),$(eval $(call gallery_pkg,$(b))))

GALLERY_PKGS := $(foreach b,$(sort $(BACKENDS)),$(BUILD)/gallery/$(b).tar.gz)

$(BUILD)/gallery/index.json: $(GALLERY_PKGS) $(BUILD)/tools/gallery_index
	@mkdir -p $(@D)
	$(BUILD)/tools/gallery_index $@ $(foreach b,$(sort $(BACKENDS)), \
	    $(b)=$(BUILD)/gallery/$(b).tar.gz=$(BUILD)/backends/$(b)/metadata.json)

ALL_TARGETS += $(BUILD)/gallery/index.json
# Operations: the metrics library, the Nodes page embedded in the binary,
# the admin CLI, and their tests and test tools.
#
# Already in LOCALAI_SRCS from here (do not add them again elsewhere, the
# link would see them twice): proto/metrics.c, api/ui/ui.c,
# gen/ui_files.c, supervisor/cli.c, supervisor/cli_util.c,
# supervisor/cli_status.c, supervisor/status.c.

# ---- metrics (pure) ---------------------------------------------------------
LOCALAI_SRCS += proto/metrics.c
$(eval $(call unit_test,test_metrics,tests/unit/test_metrics.c proto/metrics.c tests/tools/promparse.c,))
# promcheck: the strict exposition-format checker, for shell tests that
# scrape /metrics (`curl -s …/metrics | $BUILD/tests/tools/promcheck`).
$(eval $(call program,tests/tools/promcheck,tests/tools/promcheck.c tests/tools/promparse.c,))
# Snapshots arrive over IPC from less trusted processes: fuzz the checker.
$(eval $(call fuzz_target,fuzz_metrics_snap,tests/fuzz/fuzz_metrics_snap.c proto/metrics.c,-lm))

# ---- the Nodes page, embedded in the binary ---------------------------------
# api/ui/*.{html,js,css,svg} become $(BUILD)/gen/ui_files.c (the table
# declared in api/ui/ui.h); the api process serves them with
# ui_file_find().
UI_FILES := $(sort $(wildcard api/ui/*.html api/ui/*.js api/ui/*.css \
                              api/ui/*.svg))
$(BUILD)/gen/ui_files.c: tools/embed-files.sh $(UI_FILES)
	@mkdir -p $(@D)
	sh tools/embed-files.sh $@ $(UI_FILES)
LOCALAI_SRCS += api/ui/ui.c gen/ui_files.c
$(eval $(call unit_test,test_ui,tests/unit/test_ui.c api/ui/ui.c gen/ui_files.c,))

# ---- the admin CLI and the control socket's document ------------------------
LOCALAI_SRCS += supervisor/cli.c supervisor/cli_util.c supervisor/cli_status.c \
                supervisor/status.c
LOCALAI_LIBS += $(call libs,libcurl jansson)
$(eval $(call unit_test,test_status,tests/unit/test_status.c supervisor/status.c,$(call libs,jansson)))
# A stand-in supervisor control socket for the CLI tests: it serves the
# real document (supervisor/status.c) of a made-up child table.
$(eval $(call program,tests/tools/ctlserve,tests/tools/ctlserve.c supervisor/status.c,))

# ---- benchmarks -----------------------------------------------------------------
$(eval $(call program,tests/bench/bench_metrics,tests/bench/bench_metrics.c proto/metrics.c,))
