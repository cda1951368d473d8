# cmake --install step of the msgsec Python package (run with install(SCRIPT), so that
# `cmake --install --prefix P` decides at install time). Where it goes, relative to the prefix:
#   MSGSEC_PYTHON_DIR if set (absolute, or relative to the prefix);
#   prefix /usr:        lib/python3/dist-packages      (Debian's python3 for every 3.x)
#   prefix /usr/local:  lib/python3.X/dist-packages    (Debian's python3 X, found at configure time)
#   any other prefix:   lib/python3/dist-packages      (add it to PYTHONPATH)
# msgsec/_install.py records where libmsgsec.so.0 was installed, so the package finds the
# library of its own install (after $MSGSEC_LIBRARY, before the dynamic linker's search path).
# Inputs (set by common/CMakeLists.txt): MSGSEC_PYTHON_SOURCE, MSGSEC_PYTHON_DIR,
# MSGSEC_PYTHON_VERSION (e.g. 3.11, may be empty), MSGSEC_LIBDIR.
set(prefix "${CMAKE_INSTALL_PREFIX}")
if(MSGSEC_PYTHON_DIR)
  set(dir "${MSGSEC_PYTHON_DIR}")
elseif(prefix STREQUAL "/usr/local" AND MSGSEC_PYTHON_VERSION)
  set(dir "lib/python${MSGSEC_PYTHON_VERSION}/dist-packages")
else()
  set(dir "lib/python3/dist-packages")
endif()
if(NOT IS_ABSOLUTE "${dir}")
  set(dir "${prefix}/${dir}")
endif()
if(IS_ABSOLUTE "${MSGSEC_LIBDIR}")
  set(libdir "${MSGSEC_LIBDIR}")
else()
  set(libdir "${prefix}/${MSGSEC_LIBDIR}")
endif()
file(INSTALL "${MSGSEC_PYTHON_SOURCE}" DESTINATION "${dir}"
     FILES_MATCHING PATTERN "*.py" PATTERN "py.typed" PATTERN "__pycache__" EXCLUDE)
message(STATUS "Installing: ${dir}/msgsec/_install.py (library ${libdir}/libmsgsec.so.0)")
file(WRITE "$ENV{DESTDIR}${dir}/msgsec/_install.py"
     "\"\"\"Written by cmake --install: where this install put libmsgsec.\"\"\"\n"
     "LIBRARY = \"${libdir}/libmsgsec.so.0\"\n")
