# flowai-config.cmake: the CMake package of flowai-socket's C and C++ API.
#
# `cargo cinstall --release --prefix P --libdir lib` installs it as P/share/cmake/flowai/ (see the
# README, "Install"); CMake finds it under every prefix on CMAKE_PREFIX_PATH:
#
#   find_package(flowai 0.1 REQUIRED)
#   target_link_libraries(app PRIVATE flowai::flowai)         # libflowai_socket.so.0
#   target_link_libraries(app PRIVATE flowai::flowai_static)  # libflowai_socket.a + system libs
#
# Both targets carry the include directory of flowai.h and flowai.hpp (`#include <flowai.h>`).
# The file is relocatable: it finds the prefix from its own place (P/share/cmake/flowai), so
# it needs no substitution at install time and a moved prefix keeps working. The library
# directory is P/lib (--libdir lib), P/lib/<multiarch> (cargo-c's default on Debian) or P/lib64.
# The static target's system libraries are read from the Libs.private line that cargo-c wrote
# into flowai.pc (rustc's native-static-libs), so there is no second list to keep.

if(TARGET flowai::flowai)
  return()
endif()

get_filename_component(_flowai_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

set(_flowai_libdir "")
foreach(_flowai_dir lib "lib/${CMAKE_LIBRARY_ARCHITECTURE}" lib64)
  if(EXISTS "${_flowai_prefix}/${_flowai_dir}/libflowai_socket.so"
     OR EXISTS "${_flowai_prefix}/${_flowai_dir}/libflowai_socket.a")
    set(_flowai_libdir "${_flowai_prefix}/${_flowai_dir}")
    break()
  endif()
endforeach()
set(_flowai_includedir "${_flowai_prefix}/include/flowai")

if(NOT _flowai_libdir OR NOT EXISTS "${_flowai_includedir}/flowai.h")
  set(flowai_FOUND FALSE)
  set(flowai_NOT_FOUND_MESSAGE
      "flowai: no libflowai_socket or flowai.h under ${_flowai_prefix} (reinstall with cargo cinstall)")
  return()
endif()

if(EXISTS "${_flowai_libdir}/libflowai_socket.so")
  add_library(flowai::flowai SHARED IMPORTED)
  set_target_properties(flowai::flowai PROPERTIES
    IMPORTED_LOCATION "${_flowai_libdir}/libflowai_socket.so"
    IMPORTED_SONAME "libflowai_socket.so.0"
    INTERFACE_INCLUDE_DIRECTORIES "${_flowai_includedir}")
endif()

if(EXISTS "${_flowai_libdir}/libflowai_socket.a")
  set(_flowai_static_libs "")
  if(EXISTS "${_flowai_libdir}/pkgconfig/flowai.pc")
    file(STRINGS "${_flowai_libdir}/pkgconfig/flowai.pc" _flowai_private REGEX "^Libs\\.private:")
    string(REGEX REPLACE "^Libs\\.private:[ \t]*" "" _flowai_private "${_flowai_private}")
    separate_arguments(_flowai_static_libs UNIX_COMMAND "${_flowai_private}")
  endif()
  add_library(flowai::flowai_static STATIC IMPORTED)
  set_target_properties(flowai::flowai_static PROPERTIES
    IMPORTED_LOCATION "${_flowai_libdir}/libflowai_socket.a"
    IMPORTED_LINK_INTERFACE_LANGUAGES "C"
    INTERFACE_INCLUDE_DIRECTORIES "${_flowai_includedir}"
    INTERFACE_LINK_LIBRARIES "${_flowai_static_libs}")
endif()

# Only the static library installed (cargo cinstall --library-type staticlib): flowai::flowai
# is the static one, so `target_link_libraries(app flowai::flowai)` works with either install.
if(NOT TARGET flowai::flowai)
  add_library(flowai::flowai INTERFACE IMPORTED)
  set_target_properties(flowai::flowai PROPERTIES INTERFACE_LINK_LIBRARIES flowai::flowai_static)
endif()

unset(_flowai_dir)
unset(_flowai_libdir)
unset(_flowai_includedir)
unset(_flowai_prefix)
unset(_flowai_private)
unset(_flowai_static_libs)
