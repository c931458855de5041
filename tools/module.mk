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
