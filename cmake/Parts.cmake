# Include directories by part of the tree, so that a target reaches only the
# parts it builds on. BUILD/include/<name> holds one link, <part>, to the part's
# directory in the source tree: a target that adds it includes "<part>/x.h" and
# nothing else of the tree. Each library exports its own part's directory
# (PUBLIC) and no target adds the source tree itself (docs/architecture.md,
# "Boundaries").
get_filename_component(ANVIL_PARTS_ROOT ${CMAKE_CURRENT_LIST_DIR}/.. ABSOLUTE)

# anvil_part_include(VAR PART): sets VAR to the include directory of PART
# ("kernel", "sim", "hal/sim", ...), making it if needed.
function(anvil_part_include var part)
  string(REPLACE "/" "_" name ${part})
  set(dir ${CMAKE_BINARY_DIR}/include/${name})
  get_filename_component(parent ${dir}/${part} DIRECTORY)
  file(MAKE_DIRECTORY ${parent})
  file(CREATE_LINK ${ANVIL_PARTS_ROOT}/${part} ${dir}/${part} SYMBOLIC)
  set(${var} ${dir} PARENT_SCOPE)
endfunction()
