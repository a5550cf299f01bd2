# install() rules and the Debian package (CPack): ./scripts/package.sh builds
# build/tcpfsm_<version>_amd64.deb. The version is project(VERSION), the same
# one 'tcpfsm --version' and tcpfsm_build_info print.
include(GNUInstallDirs)

# Debian keeps units of packages in /lib/systemd/system (usrmerge makes it
# /usr/lib too); an absolute path, so a /usr/local install does not hide it.
set(TCPFSM_SYSTEMD_UNIT_DIR "/lib/systemd/system" CACHE PATH "Where the systemd unit is installed")

set(pkg ${CMAKE_CURRENT_SOURCE_DIR}/packaging)
set(out ${CMAKE_CURRENT_BINARY_DIR}/packaging)
set(TCPFSM_VERSION ${PROJECT_VERSION})
configure_file(${pkg}/tcpfsm.8 ${out}/tcpfsm.8 @ONLY)
configure_file(${pkg}/changelog ${out}/changelog @ONLY)

# Debian wants man pages and changelogs gzipped, -n so the package is
# reproducible (no name or time in the gzip header).
add_custom_command(
  OUTPUT ${out}/tcpfsm.8.gz ${out}/changelog.gz
  COMMAND gzip -9nkf ${out}/tcpfsm.8 ${out}/changelog
  DEPENDS ${out}/tcpfsm.8 ${out}/changelog
  COMMENT "Compressing the man page and the changelog")
add_custom_target(tcpfsm_docs ALL DEPENDS ${out}/tcpfsm.8.gz ${out}/changelog.gz)

install(TARGETS tcpfsm RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
# Stripped as dh_strip does (CPACK_STRIP_FILES runs a plain `strip`, which
# keeps the .comment section lintian reports as unneeded).
install(CODE "execute_process(COMMAND ${CMAKE_STRIP} --remove-section=.comment --remove-section=.note --strip-unneeded
                \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_SBINDIR}/tcpfsm\" COMMAND_ERROR_IS_FATAL ANY)")
install(FILES ${out}/tcpfsm.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${pkg}/tcpfsm.bash-completion DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        RENAME tcpfsm)
install(FILES deploy/tcpfsm.service DESTINATION ${TCPFSM_SYSTEMD_UNIT_DIR})
install(FILES ${pkg}/copyright ${out}/changelog.gz DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES deploy/README.md deploy/prometheus.yml deploy/alerts.yml deploy/alerts_test.yml
              deploy/grafana-dashboard.json
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES deploy/kubernetes/daemonset.yaml deploy/kubernetes/prometheus.yml
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples/kubernetes)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tcpfsm)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # tcpfsm_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "tcpfsm maintainers <maintainers@users.noreply.h-seed-57110885.example>")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends: from the shared libraries the binary links, by dpkg-shlibdeps.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "prometheus, bash-completion")
# 0644 control files and md5sums, as dpkg-deb would make them.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "real-time TCP state-transition tracer and exporter (eBPF)")
# CPack writes the summary as the first line and indents these lines itself
# (an empty line becomes " .").
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "tcpfsm watches every TCP state change as it happens, from a BPF program on
the kernel's tracepoints: live per-state counts and how long sockets stay in
each state (TIME_WAIT included), how each connection ended, the processes
that hold sockets stuck in CLOSE_WAIT and other states, a Prometheus
exporter, and a doctor that diagnoses the host's TCP with evidence and
judges sysctl recipes line by line.

It needs a kernel with BTF and root (or CAP_BPF and CAP_PERFMON).")
include(CPack)
