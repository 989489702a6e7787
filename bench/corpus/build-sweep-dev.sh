#!/bin/bash
# Builds a broad corpus of real-world files for robustness tests and benchmarks: a few hundred JPEG, PNG,
# GIF (animated too), WebP (animated too), SVG and PDF files from Debian packages (photos with camera
# EXIF, icon themes, game art, image-library test suites with deliberately broken files, documentation
# PDFs from many producers), plus edge cases made from those real files (marked "derived" in the manifest):
# EXIF orientations 2-8, CMYK, greyscale, progressive/baseline, 4:4:4/4:2:0, an AdobeRGB ICC profile,
# 16-bit/interlaced/tEXt PNGs, 1x1 images of each format, a ~46 MP JPEG, lossy/lossless/alpha/animated WebP,
# truncated files and a web page saved under an image name.
# Usage: bench/corpus/build-sweep-dev.sh [DEST]   (default DEST: crush-sweep-dev in the system's temporary
# folder). Idempotent (DEST/.done). Layout: DEST/{jpeg,png,gif,webp,svg,pdf}/ and DEST/MANIFEST.tsv (file,
# bytes, source package, how made). Files are chosen by fixed rules (every Nth of a package's files in
# C-locale path order, content-checked, deduplicated by SHA-256), so a rebuild gives the same corpus.
# Needs apt-get (Debian package downloads, about 360 MB) and dpkg; installs vips, webp, exiftool,
# ImageMagick, img2pdf, poppler-utils, avifenc and heif-enc when missing. Prints DEST on stdout, progress on stderr.
set -euo pipefail
export LC_ALL=C
dest=${1:-$(dirname "$(mktemp -u)")/crush-sweep-dev}
[[ -f $dest/.done ]] && { echo "$dest"; exit 0; }
t0=$SECONDS
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
X=$dest/.x T=$dest/.tmp M=$dest/.manifest
rm -rf "$dest"/{jpeg,png,gif,webp,svg,pdf,avif,heic,tiff,bmp} "$X" "$T" "$M" "$dest/MANIFEST.tsv"
mkdir -p "$dest"/{jpeg,png,gif,webp,svg,pdf,avif,heic,tiff,bmp} "$dest/.debs" "$X" "$T"
log() { echo "build-sweep-dev: $*" >&2; }

# --- image programs ------------------------------------------------------------------------------
apt-get update -qq >/dev/null 2>&1 || true
need=()
command -v vips >/dev/null || need+=(libvips-tools)
for t in cwebp gif2webp img2webp; do command -v $t >/dev/null || { need+=(webp); break; }; done
command -v exiftool >/dev/null || need+=(libimage-exiftool-perl)
command -v img2pdf >/dev/null || need+=(img2pdf)
command -v pdftoppm >/dev/null || need+=(poppler-utils)
command -v avifenc >/dev/null || need+=(libavif-bin)
command -v heif-enc >/dev/null || need+=(libheif-examples)
# the real ImageMagick (a `convert` elsewhere on PATH may be a stand-in)
IM=$(command -v magick || command -v convert-im6.q16 || true)
[[ -n $IM ]] || need+=(imagemagick)
if ((${#need[@]})); then
  log "installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
    || { log "could not install ${need[*]}"; exit 1; }
fi
IM=$(command -v magick || command -v convert-im6.q16)

# --- packages -------------------------------------------------------------------------------------
PKGS=(
  # photos (JPEG) with camera EXIF, wallpapers, game backgrounds
  lomiri-wallpapers-20.04 lomiri-wallpapers krank eyes17 propaganda-debian desktop-base xfdesktop4-data
  darktable pingus-data tuxpaint-data
  # Go's image test data: JPEG sub-samplings, progressive, CMYK, grey, truncated; the PNG suite; broken PNGs
  golang-1.19-src golang-golang-x-image-dev
  # PNG: icon themes, screenshots, wallpapers, plots
  tango-icon-theme gnome-icon-theme sway-backgrounds mypaint-data-extras gnome-user-docs python3-matplotlib
  qtcreator-doc
  # GIF: animations (256 frames, spinners, emoticons), diagrams, theme parts
  python3-elgato-streamdeck python-humanfriendly-doc libjs-dojo-dojox graphviz-doc tcl-ttkthemes deluge-web
  apache2-data
  # WebP: animated, lossless, lossy with alpha, screenshots
  kuttypy-gui allegro5-doc libsdl2-image-tests python3-httpbin r-cran-webfakes janus-demos roundcube-core
  # SVG: icons, emoji
  papirus-icon-theme bootstrap-icons ruby-gemojione suru-icon-theme
  # PDF: many producers (pdfTeX, XeTeX, LuaTeX/ConTeXt, xdvipdfmx, Ghostscript, Apache FOP, OpenOffice,
  # LibreOffice, Acrobat Distiller, Adobe PDF Library, BaKoMa, cairo, Matplotlib, R, Inkscape, PowerPoint,
  # mPDF, PDF::Builder, Prawn, iText), forms, outlines, JPEG/Flate/CCITT images, 500-1000 page manuals
  juce-modules-source-data texlive-games texlive-xetex context-modules jmeter-help labplot-data lyx-common
  python-matplotlib-data python3-graphviz fonts-texgyre live-manual-pdf derivations zsh-doc r-cran-hsaur3
  fuzzylite docbook-dsssl dblatex libsystemc-doc gentle highway-doc microhope libann-dev wiki2beamer
  fonts-lxgw-wenkai-doc cd-hit libpdf-builder-perl slurm-wlm-doc yade xmlformat-doc
  # ICC profiles for the derived colour-managed JPEG
  colord-data
)
# packages of which only a part is needed (a tar pattern), to save unpacking time
declare -A PART=([golang-1.19-src]='./usr/share/go-1.19/src/image/*')
cd "$dest/.debs"
known=" $(apt-cache show --no-all-versions "${PKGS[@]}" 2>/dev/null | sed -n 's/^Package: //p' | tr '\n' ' ') "
get=()
for p in "${PKGS[@]}"; do
  if [[ $known != *" $p "* ]]; then log "package $p not found, skipped"
  elif ! compgen -G "${p}_*.deb" >/dev/null; then get+=("$p"); fi
done
if ((${#get[@]})) && ! apt-get download -qq "${get[@]}" >/dev/null 2>&1; then
  for p in "${get[@]}"; do   # one at a time, to skip only what fails
    compgen -G "${p}_*.deb" >/dev/null || apt-get download -qq "$p" >/dev/null 2>&1 || log "download of $p failed"
  done
fi
for f in *.deb; do
  p=${f%%_*}
  mkdir -p "$X/$p"
  if [[ -n ${PART[$p]:-} ]]; then
    dpkg-deb --fsys-tarfile "$f" | tar -x -C "$X/$p" --wildcards "${PART[$p]}"
  else
    dpkg -x "$f" "$X/$p"
  fi
done
log "unpacked $(ls "$X" | wc -l) packages ($((SECONDS - t0)) s)"

# --- choosing files -------------------------------------------------------------------------------
declare -A seen
is_fmt() {  # is_fmt FMT FILE: the content (not the name) is FMT
  local h
  h=$(head -c 16 "$2" | od -An -tx1 | tr -d ' \n')
  case $1 in
    jpeg) [[ $h == ffd8ff* ]] ;;
    png) [[ $h == 89504e470d0a1a0a* ]] ;;
    gif) [[ $h == 47494638* ]] ;;
    webp) [[ $h == 52494646* && ${h:16:8} == 57454250 ]] ;;
    pdf) grep -aq '%PDF-' < <(head -c 1024 "$2") ;;   # (not a pipe: grep -q's early exit would fail it)
    svg) grep -aqi '<svg' < <(head -c 65536 "$2") ;;
  esac
}
add() {  # add FMT PKG FILE [HOW]: copy FILE into FMT/ under a readable unique name, one manifest line
  local fmt=$1 pkg=$2 src=$3 how=${4:-} h base stem ext name dir
  h=$(sha256sum "$src") && h=${h%% *}
  [[ -z ${seen[$h]:-} ]] || return 0
  seen[$h]=1
  base=${src##*/}
  if [[ $base == *.* ]]; then stem=${base%.*} ext=${base##*.}; else stem=$base ext=$fmt; fi
  ext=${ext,,}
  stem=$(printf '%s' "$stem" | tr -c 'A-Za-z0-9._+-' '_')
  name=$pkg--$stem.$ext
  if [[ -e $dest/$fmt/$name ]]; then
    dir=${src%/*} && dir=$(printf '%s' "${dir##*/}" | tr -c 'A-Za-z0-9._+-' '_')
    name=$pkg--$dir-$stem.$ext
  fi
  [[ -e $dest/$fmt/$name ]] && name=$pkg--$stem-${h:0:8}.$ext
  cp "$src" "$dest/$fmt/$name"
  [[ -n $how ]] || how="copied from /${src#"$X/$pkg/"}"
  printf '%s\t%s\t%s\t%s\n' "$fmt/$name" "$(stat -c %s "$dest/$fmt/$name")" "$pkg" "$how" >>"$M"
}
pick() {  # pick FMT PKG EVERY MAX FIND-TESTS...: of PKG's regular files passing the tests, in C-locale path
  # order, the 1st, (1+EVERY)th, (1+2*EVERY)th ... (at most MAX), kept when their content is FMT
  local fmt=$1 pkg=$2 every=$3 max=$4 f lim=31457280
  shift 4
  [[ -d $X/$pkg ]] || { log "no $pkg for $fmt"; return 0; }
  [[ $fmt == pdf ]] && lim=20000000
  while IFS= read -r f; do
    if is_fmt "$fmt" "$f"; then add "$fmt" "$pkg" "$f"; fi
  done < <(find "$X/$pkg" -type f -size +0 -size -$((lim + 1))c "$@" | sort | awk -v n="$every" -v m="$max" '(NR - 1) % n == 0 && c < m { c++; print }')
}
take() {  # take FMT PKG FIND-TESTS...: every matching file as it is (test suites' broken files included)
  local fmt=$1 pkg=$2 f
  shift 2
  [[ -d $X/$pkg ]] || { log "no $pkg for $fmt"; return 0; }
  while IFS= read -r f; do add "$fmt" "$pkg" "$f"; done < <(find "$X/$pkg" -type f "$@" | sort)
}
src() {  # src PKG RELPATH: the path of a package file used as a source for derived files
  [[ -f $X/$1/$2 ]] && { echo "$X/$1/$2"; return 0; }
  log "missing source $1:/$2"
  return 1
}
JPG=(\( -iname '*.jpg' -o -iname '*.jpeg' \))

# --- JPEG -------------------------------------------------------------------------------------------
pick jpeg krank 4 99 "${JPG[@]}"                          # Fujifilm photos with EXIF
pick jpeg lomiri-wallpapers-20.04 1 99 "${JPG[@]}"        # up to 6000x4000, 4096x4096 at q100
pick jpeg eyes17 3 99 "${JPG[@]}"                         # phone and camera photos, a grey scan
pick jpeg propaganda-debian 5 99 "${JPG[@]}"
pick jpeg desktop-base 1 99 "${JPG[@]}"
pick jpeg xfdesktop4-data 1 99 "${JPG[@]}"
pick jpeg darktable 1 99 "${JPG[@]}"
pick jpeg pingus-data 15 99 "${JPG[@]}"
pick jpeg tuxpaint-data 12 99 "${JPG[@]}"
# Go's JPEG test data: 4:1:0 ... 4:4:4 sub-samplings, progressive, CMYK, RGB, grey, truncated
take jpeg golang-1.19-src -path '*/image/testdata/*' "${JPG[@]}"
pick jpeg golang-golang-x-image-dev 1 99 "${JPG[@]}"

# --- PNG --------------------------------------------------------------------------------------------
pick png tango-icon-theme 150 99 -name '*.png'
pick png gnome-icon-theme 400 99 -name '*.png'
pick png pingus-data 250 99 -name '*.png'
pick png sway-backgrounds 2 99 -name '*.png'             # 4K wallpapers
pick png lomiri-wallpapers 1 99 -name '*.png'
pick png mypaint-data-extras 5 99 -name '*.png'          # large paletted backgrounds
pick png gnome-user-docs 25 99 -name '*.png'             # screenshots, iCCP
pick png tuxpaint-data 80 99 -name '*.png'               # grey, 1-bit, interlaced, iCCP
pick png python3-matplotlib 30 99 -name '*.png'
pick png eyes17 40 99 -name '*.png'
pick png desktop-base 40 99 -name '*.png'
pick png qtcreator-doc 150 99 -name '*.png'
pick png ruby-gemojione 400 99 -name '*.png'
# the PNG suite and Go's broken PNGs (CRC, truncated, bad zlib, no IEND, bad palette)
pick png golang-1.19-src 6 99 -path '*/image/png/testdata/*' -name '*.png'
take png golang-1.19-src -path '*/image/png/testdata/*' -name 'invalid-*.png'
pick png golang-golang-x-image-dev 8 99 -name '*.png'

# --- GIF --------------------------------------------------------------------------------------------
take gif python3-elgato-streamdeck -name '*.gif'           # up to 256 frames
take gif python-humanfriendly-doc -name '*.gif'            # terminal spinners, 50-74 frames
pick gif libjs-dojo-dojox 30 99 -name '*.gif'              # loaders, animated emoticons
pick gif tcl-ttkthemes 350 99 -name '*.gif'
pick gif graphviz-doc 25 99 -name '*.gif'
pick gif deluge-web 100 99 -name '*.gif'
pick gif apache2-data 30 99 -name '*.gif'
pick gif kuttypy-gui 2 99 -name '*.gif'
pick gif darktable 3 99 -name '*.gif'
take gif golang-1.19-src -path '*/image/testdata/*' -name '*.gif'   # interlaced, 5 bpp, grey

# --- WebP -------------------------------------------------------------------------------------------
pick webp golang-golang-x-image-dev 1 99 -name '*.webp'  # lossless 1-8 bpp, lossy filters, alpha
pick webp kuttypy-gui 1 99 -name '*.webp'                # animated
pick webp qtcreator-doc 2 99 -name '*.webp'              # screenshots
pick webp allegro5-doc 1 99 -name '*.webp'
pick webp libsdl2-image-tests 1 99 -name '*.webp'
pick webp python3-httpbin 1 99 -name '*.webp'            # with XMP
pick webp r-cran-webfakes 1 99 -name '*.webp'
pick webp janus-demos 1 99 -name '*.webp'
pick webp roundcube-core 1 99 -name '*.webp'

# --- SVG --------------------------------------------------------------------------------------------
pick svg papirus-icon-theme 8000 99 -name '*.svg'
pick svg bootstrap-icons 400 99 -name '*.svg'
pick svg gnome-user-docs 20 99 -name '*.svg'
pick svg ruby-gemojione 300 99 -name '*.svg'
pick svg suru-icon-theme 200 99 -name '*.svg'
pick svg desktop-base 40 99 -name '*.svg'                # large wallpaper artwork
pick svg eyes17 60 99 -name '*.svg'
pick svg tango-icon-theme 50 99 -name '*.svg'
pick svg darktable 25 99 -name '*.svg'

# --- PDF --------------------------------------------------------------------------------------------
pick pdf juce-modules-source-data 1 99 -name '*.pdf'     # a form; JPEG images
pick pdf texlive-games 120 99 -name '*.pdf'               # BaKoMa TeX, Adobe PDF Library, Distiller
take pdf texlive-games \( -name chessboard.pdf -o -name xskak.pdf \)   # form fields, 60-80 pages
pick pdf texlive-xetex 40 99 -name '*.pdf'               # XeLaTeX, xdvipdfmx, Adobe PDF library
pick pdf context-modules 16 99 -name '*.pdf'             # ConTeXt: LuaTeX 0.x-1.x, pdfeTeX, Aladdin Ghostscript
pick pdf jmeter-help 2 99 -name '*.pdf'                  # OpenOffice 1.1-3.2, LibreOffice 4
pick pdf labplot-data 60 99 -name '*.pdf'                # cairo
pick pdf lyx-common 5 99 -name '*.pdf'
pick pdf python-matplotlib-data 10 99 -name '*.pdf'       # Matplotlib, cairo
pick pdf python3-graphviz 2 99 -name '*.pdf'             # cairo
pick pdf fonts-texgyre 8 99 -name '*.pdf'
pick pdf live-manual-pdf 6 99 -name '*.pdf'              # xdvipdfmx
pick pdf derivations 1 99 -name '*.pdf'                  # 796 pages
pick pdf zsh-doc 1 99 -name '*.pdf'                      # 480 pages
pick pdf r-cran-hsaur3 12 99 -name '*.pdf'
pick pdf fuzzylite 18 99 -name '*.pdf'                   # R
pick pdf docbook-dsssl 22 99 -name '*.pdf'
pick pdf dblatex 3 99 -name '*.pdf'
pick pdf libsystemc-doc 6 99 -name '*.pdf'
pick pdf gentle 2 99 -name '*.pdf'                       # OpenOffice with JPEGs
pick pdf highway-doc 2 99 -name '*.pdf'                  # 46 JPEG images
pick pdf microhope 1 99 -name '*.pdf'
pick pdf libann-dev 1 99 -name '*.pdf'                   # CCITT fax image
pick pdf wiki2beamer 2 99 -name '*.pdf'                  # Inkscape
pick pdf fonts-lxgw-wenkai-doc 1 99 -name '*.pdf'        # PowerPoint
pick pdf cd-hit 1 99 -name '*.pdf'                       # mPDF
pick pdf libpdf-builder-perl 2 99 -name '*.pdf'          # PDF::Builder
pick pdf slurm-wlm-doc 2 99 -name '*.pdf'                # Prawn, Acrobat Web Capture
pick pdf yade 2 99 -name '*.pdf'                         # iText, OpenOffice
pick pdf xmlformat-doc 1 99 -name '*.pdf'                # Apache FOP
log "real files chosen ($((SECONDS - t0)) s)"

# --- derived: the edge cases users send, made from the real files above ----------------------------
der() {  # der FMT NAME PKG HOW FILE: FILE (made in $T) becomes FMT/derived--NAME
  local fmt=$1 name=$2 pkg=$3 how=$4 f=$5
  mv "$f" "$dest/$fmt/derived--$name"
  printf '%s\t%s\t%s\t%s\n' "$fmt/derived--$name" "$(stat -c %s "$dest/$fmt/derived--$name")" "$pkg" "derived: $how" >>"$M"
}
KR=usr/share/games/krank/levels/unera-backgrounds
L20=usr/share/backgrounds
DATES=(--creationdate 2022-11-02T16:45:00 --moddate 2022-11-02T16:45:00)   # fixed dates and the internal engine: img2pdf's output is reproducible
if s=$(src krank $KR/level-01.jpg); then
  for o in 2 3 4 5 6 7 8; do   # a Fujifilm photo with its EXIF, Orientation set to each non-trivial value
    cp "$s" "$T/o.jpg" && exiftool -q -n -overwrite_original -Orientation=$o "$T/o.jpg"
    der jpeg "exif-orientation-$o.jpg" krank "exiftool -Orientation=$o on $KR/level-01.jpg" "$T/o.jpg"
  done
fi
if s=$(src krank $KR/level-05.jpg); then
  "$IM" "$s" -colorspace CMYK -quality 90 "$T/c.jpg"
  der jpeg cmyk.jpg krank "ImageMagick -colorspace CMYK -quality 90 (no profile) from $KR/level-05.jpg" "$T/c.jpg"
fi
if s=$(src lomiri-wallpapers-20.04 $L20/Fossa_by_Jasper_Roks.jpg); then
  "$IM" "$s" -resize 2000x -colorspace Gray -quality 86 "$T/g.jpg"
  der jpeg grayscale.jpg lomiri-wallpapers-20.04 "ImageMagick -resize 2000x -colorspace Gray -quality 86 from $L20/Fossa_by_Jasper_Roks.jpg" "$T/g.jpg"
fi
if s=$(src lomiri-wallpapers-20.04 $L20/Painting-Colors_by__herobrine7gamer.jpg); then
  vips resize "$s" "$T/third.v" 0.3333
  for v in "progressive-444 interlace subsample_mode=off" "progressive-420 interlace subsample_mode=on" \
           "baseline-444 subsample_mode=off" "baseline-420 subsample_mode=on"; do
    set -- $v
    opts=Q=85,strip=false${2:+,$2}${3:+,$3}
    vips copy "$T/third.v" "$T/v.jpg[$opts]"
    der jpeg "$1.jpg" lomiri-wallpapers-20.04 "vips resize 1/3, jpegsave [$opts] from $L20/Painting-Colors_by__herobrine7gamer.jpg" "$T/v.jpg"
  done
  set --
fi
if s=$(src lomiri-wallpapers-20.04 $L20/Kleiber_by_Lukas_Baubkus.jpg); then
  vips resize "$s" "$T/b.jpg[Q=92,strip=false]" 1.5
  der jpeg 46mp.jpg lomiri-wallpapers-20.04 "vips resize 1.5 (9042x5087), Q92, from $L20/Kleiber_by_Lukas_Baubkus.jpg" "$T/b.jpg"
fi
if s=$(src krank $KR/level-09.jpg) && argb=$(src colord-data usr/share/color/icc/colord/AdobeRGB1998.icc) && srgb=$(src colord-data usr/share/color/icc/colord/sRGB.icc); then
  vips icc_transform "$s" "$T/p.jpg[Q=92,strip=false]" "$argb" --input-profile "$srgb" --embedded
  der jpeg adobergb-icc.jpg krank "vips icc_transform sRGB -> colord AdobeRGB1998.icc (embedded), Q92, from $KR/level-09.jpg" "$T/p.jpg"
fi
if s=$(src krank $KR/level-12.jpg); then
  vips thumbnail "$s" "$T/1.jpg[Q=92,strip]" 1 --height 1 --size force
  vips thumbnail "$s" "$T/1.png[strip]" 1 --height 1 --size force
  "$IM" "$T/1.png" "$T/1.gif"
  cwebp -quiet -lossless "$T/1.png" -o "$T/1.webp"
  rgb=$(vips getpoint "$T/1.png" 0 0 | awk '{printf "#%02x%02x%02x", $1, $2, $3}')
  printf '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="1px" height="1px"><rect x="0" y="0" width="1" height="1" style="fill:%s"/></svg>\n' "$rgb" >"$T/1.svg"
  img2pdf --engine internal --rotation=ifvalid "${DATES[@]}" --pagesize 3ptx3pt "$T/1.jpg" -o "$T/1.pdf"
  how="1x1 from $KR/level-12.jpg"
  der jpeg 1x1.jpg krank "vips thumbnail $how" "$T/1.jpg"
  der png 1x1.png krank "vips thumbnail $how" "$T/1.png"
  der gif 1x1.gif krank "ImageMagick, $how" "$T/1.gif"
  der webp 1x1.webp krank "cwebp -lossless, $how" "$T/1.webp"
  der svg 1x1.svg krank "hand-written rect of the colour of $how" "$T/1.svg"
  der pdf 1x1.pdf krank "img2pdf --pagesize 3ptx3pt of the $how" "$T/1.pdf"
fi
# PNG
if s=$(src lomiri-wallpapers-20.04 $L20/Kleiber_by_Lukas_Baubkus.jpg); then
  vips thumbnail "$s" "$T/k.v" 1800
  vips colourspace "$T/k.v" "$T/k.png[bitdepth=16]" rgb16
  der png 16bit-rgb-photo.png lomiri-wallpapers-20.04 "vips thumbnail 1800, 16-bit RGB PNG, from $L20/Kleiber_by_Lukas_Baubkus.jpg" "$T/k.png"
fi
if s=$(src lomiri-wallpapers-20.04 $L20/Infinite-Sea_by_Aury88.jpg); then
  vips thumbnail "$s" "$T/i.png" 2200
  der png photo-as-png.png lomiri-wallpapers-20.04 "vips thumbnail 2200, saved as PNG, from $L20/Infinite-Sea_by_Aury88.jpg" "$T/i.png"
  vips thumbnail "$s" "$T/i.jpg" 2048
  cwebp -quiet -q 78 "$T/i.jpg" -o "$T/i.webp"
  der webp lossy-photo.webp lomiri-wallpapers-20.04 "cwebp -q 78 of a 2048 px thumbnail of $L20/Infinite-Sea_by_Aury88.jpg" "$T/i.webp"
fi
if s=$(src gnome-user-docs usr/share/help/C/gnome-help/figures/shell-appts.png); then
  cp "$s" "$T/t.png"
  exiftool -q -overwrite_original -PNG:Copyright='Copyright 2013 GNOME Documentation Project, CC BY-SA 3.0' -PNG:Title='Appointments' "$T/t.png"
  der png text-copyright.png gnome-user-docs "exiftool -PNG:Copyright/-PNG:Title (tEXt chunks) on gnome-help/figures/shell-appts.png" "$T/t.png"
fi
if s=$(src pingus-data usr/share/games/pingus/data/images/core/menu/blackboard.png); then
  vips copy "$s" "$T/i.png[interlace]"
  der png interlaced.png pingus-data "vips pngsave interlace (Adam7) of images/core/menu/blackboard.png" "$T/i.png"
  cwebp -quiet -lossless -z 9 "$s" -o "$T/l.webp"
  der webp lossless.webp pingus-data "cwebp -lossless -z 9 of images/core/menu/blackboard.png" "$T/l.webp"
fi
if s=$(src zsh-doc usr/share/doc/zsh-common/zsh.pdf); then
  pdftoppm -r 100 -f 5 -l 5 -png "$s" "$T/page"
  der png document-page.png zsh-doc "pdftoppm -r 100 page 5 of zsh.pdf" "$(ls "$T"/page*.png)"
fi
# GIF: a photographic animation (a pan across a photo, 30 frames, 256 colours)
if s=$(src lomiri-wallpapers-20.04 $L20/Fossa_by_Jasper_Roks.jpg); then
  vips thumbnail "$s" "$T/pan.png" 1280
  for i in $(seq 0 29); do "$IM" "$T/pan.png" -crop "320x200+$((i * 30))+$((i * 12))" +repage "$T/pan-$(printf %02d $i).png"; done
  "$IM" -delay 6 -loop 0 "$T"/pan-*.png "$T/pan.gif"
  der gif photo-pan-30-frames.gif lomiri-wallpapers-20.04 "ImageMagick animation of 30 crops of a 1280 px thumbnail of $L20/Fossa_by_Jasper_Roks.jpg" "$T/pan.gif"
  rm -f "$T"/pan-*.png
fi
# WebP
if s=$(src gnome-icon-theme usr/share/icons/gnome/256x256/actions/appointment-new.png); then
  cwebp -quiet -q 70 -alpha_q 90 "$s" -o "$T/a.webp"
  der webp lossy-alpha.webp gnome-icon-theme "cwebp -q 70 -alpha_q 90 of 256x256/actions/appointment-new.png" "$T/a.webp"
fi
if s=$(src python3-elgato-streamdeck usr/share/doc/python3-elgato-streamdeck/examples/Assets/RGB_color_space_animated_view.gif); then
  gif2webp -quiet -lossy -q 65 "$s" -o "$T/c.webp"
  der webp animated-256-frames-lossy.webp python3-elgato-streamdeck "gif2webp -lossy -q 65 of examples/Assets/RGB_color_space_animated_view.gif" "$T/c.webp"
fi
if s=$(src libjs-dojo-dojox usr/share/javascript/dojox/editor/plugins/resources/emoticons/emoticonShy.gif); then
  gif2webp -quiet "$s" -o "$T/e.webp"
  der webp animated-alpha-lossless.webp libjs-dojo-dojox "gif2webp (lossless) of emoticons/emoticonShy.gif" "$T/e.webp"
fi
a=$(src krank $KR/menu-play.jpg) && b=$(src krank $KR/level-20.jpg) && c=$(src krank $KR/level-27.jpg) && {
  for k in a b c; do vips thumbnail "${!k}" "$T/sl-$k.png" 800 --height 600 --crop centre; done
  img2webp -loop 0 -lossy -q 70 -d 1200 "$T/sl-a.png" "$T/sl-b.png" "$T/sl-c.png" -o "$T/sl.webp" >/dev/null 2>&1
  der webp animated-slideshow.webp krank "img2webp -lossy -q 70 -d 1200 of 800x600 crops of menu-play, level-20, level-27 ($KR)" "$T/sl.webp"
  img2pdf --engine internal --rotation=ifvalid "${DATES[@]}" --title 'Krank backgrounds' --pagesize Letter "$a" "$c" -o "$T/album.pdf"
  der pdf img2pdf-photo-album.pdf krank "img2pdf (with a Title) --pagesize Letter of $KR/menu-play.jpg and level-27.jpg" "$T/album.pdf"
  rm -f "$T"/sl-*.png
}
# interrupted downloads (the first part of a real file) and a web page saved under an image name
if s=$(src krank $KR/level-14.jpg); then
  head -c $(($(stat -c %s "$s") / 2)) "$s" >"$T/t.jpg"
  der jpeg truncated-half.jpg krank "the first half of $KR/level-14.jpg" "$T/t.jpg"
fi
if s=$(src sway-backgrounds usr/share/backgrounds/sway/Sway_Wallpaper_Blue_1920x1080.png); then
  head -c $(($(stat -c %s "$s") / 2)) "$s" >"$T/t.png"
  der png truncated-half.png sway-backgrounds "the first half of backgrounds/sway/Sway_Wallpaper_Blue_1920x1080.png" "$T/t.png"
fi
if s=$(src python-humanfriendly-doc usr/share/doc/python-humanfriendly-doc/html/index.html); then
  cp "$s" "$T/h.gif"
  der gif html-page-named-gif.gif python-humanfriendly-doc "html/index.html saved as .gif (what a hot-linked image URL can return)" "$T/h.gif"
fi
# SVG with an embedded photo (what design programs export)
if s=$(src eyes17 usr/share/eyes17/helpFiles/pics/induction-photo.jpg); then
  vips thumbnail "$s" "$T/e.jpg[Q=82]" 480
  read -r w h < <(vipsheader -f width "$T/e.jpg" | tr '\n' ' '; vipsheader -f height "$T/e.jpg")
  { printf '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %s %s" width="%s" height="%s">\n  <image href="data:image/jpeg;base64,' "$w" "$h" "$w" "$h"
    base64 -w 0 "$T/e.jpg"
    printf '" width="%s" height="%s"/>\n  <circle cx="%s" cy="%s" r="40" fill="none" stroke="#e01b24" stroke-width="4"/>\n</svg>\n' "$w" "$h" "$((w / 2))" "$((h / 2))"; } >"$T/e.svg"
  der svg embedded-jpeg.svg eyes17 "a 480 px thumbnail of helpFiles/pics/induction-photo.jpg as a base64 data URI in an SVG" "$T/e.svg"
fi

# AVIF, HEIC, TIFF and BMP inputs: real photos and graphics from the packages above, written by the tools
# that make such files (phones' HEIC by libheif's x265, AVIF by libavif, TIFF by libtiff/libvips, BMP by
# ImageMagick), in the layouts they come in (alpha, 10-bit, 16-bit, CMYK, several pages, palettes)
photo=$(src lomiri-wallpapers-20.04 $L20/Fossa_by_Jasper_Roks.jpg) || photo=
icon=$(src gnome-icon-theme usr/share/icons/gnome/256x256/actions/appointment-new.png) || icon=
if [[ -n $photo ]]; then
  vips thumbnail "$photo" "$T/p.png" 2400
  vips thumbnail "$photo" "$T/q.png" 800
  avifenc --min 20 --max 30 -s 6 "$T/p.png" "$T/p.avif" >/dev/null
  der avif photo-q20-30.avif lomiri-wallpapers-20.04 "avifenc --min 20 --max 30 -s 6 of a 2400 px thumbnail of $L20/Fossa_by_Jasper_Roks.jpg" "$T/p.avif"
  avifenc --min 10 --max 16 -d 10 -y 444 -s 6 "$T/q.png" "$T/q.avif" >/dev/null
  der avif photo-10bit-444.avif lomiri-wallpapers-20.04 "avifenc --min 10 --max 16 -d 10 -y 444 of an 800 px thumbnail of $L20/Fossa_by_Jasper_Roks.jpg" "$T/q.avif"
  heif-enc -q 50 "$T/p.png" -o "$T/p.heic" >/dev/null
  der heic photo-q50.heic lomiri-wallpapers-20.04 "heif-enc (x265) -q 50 of a 2400 px thumbnail of $L20/Fossa_by_Jasper_Roks.jpg" "$T/p.heic"
  vips copy "$T/p.png" "$T/p.tif[compression=lzw,predictor=horizontal]"
  der tiff photo-lzw.tif lomiri-wallpapers-20.04 "vips tiffsave LZW + predictor of a 2400 px thumbnail of $L20/Fossa_by_Jasper_Roks.jpg" "$T/p.tif"
  vips colourspace "$T/q.png" "$T/q16.tif[compression=deflate]" rgb16
  der tiff photo-16bit-deflate.tif lomiri-wallpapers-20.04 "vips 16-bit RGB, deflate, of an 800 px thumbnail of $L20/Fossa_by_Jasper_Roks.jpg" "$T/q16.tif"
  "$IM" "$T/q.png" -colorspace CMYK -compress JPEG -quality 88 "$T/c.tif"
  der tiff cmyk-jpeg.tif lomiri-wallpapers-20.04 "ImageMagick CMYK, JPEG-compressed TIFF, of an 800 px thumbnail of $L20/Fossa_by_Jasper_Roks.jpg" "$T/c.tif"
  "$IM" "$T/q.png" "$T/p.png" -compress Zip "$T/m.tif"
  der tiff two-pages.tif lomiri-wallpapers-20.04 "ImageMagick two-page TIFF (800 and 2400 px thumbnails) of $L20/Fossa_by_Jasper_Roks.jpg" "$T/m.tif"
  "$IM" "$T/q.png" BMP3:"$T/q.bmp"
  der bmp photo-24bit.bmp lomiri-wallpapers-20.04 "ImageMagick BMP3 (24-bit) of an 800 px thumbnail of $L20/Fossa_by_Jasper_Roks.jpg" "$T/q.bmp"
fi
if [[ -n $icon ]]; then
  avifenc -l "$icon" "$T/i.avif" >/dev/null
  der avif icon-alpha-lossless.avif gnome-icon-theme "avifenc -l (lossless, alpha) of 256x256/actions/appointment-new.png" "$T/i.avif"
  heif-enc -q 70 "$icon" -o "$T/i.heic" >/dev/null
  der heic icon-alpha.heic gnome-icon-theme "heif-enc (x265) -q 70 of 256x256/actions/appointment-new.png (alpha)" "$T/i.heic"
  "$IM" "$icon" BMP:"$T/i.bmp"
  der bmp icon-32bit-alpha.bmp gnome-icon-theme "ImageMagick BMP (v5, 32-bit with alpha) of 256x256/actions/appointment-new.png" "$T/i.bmp"
  "$IM" "$icon" -background white -flatten -colors 256 -type Palette BMP3:"$T/p8.bmp"
  der bmp palette-8bit.bmp gnome-icon-theme "ImageMagick BMP3 8-bit palette of 256x256/actions/appointment-new.png over white" "$T/p8.bmp"
fi
if s=$(src zsh-doc usr/share/doc/zsh-common/zsh.pdf); then
  pdftoppm -r 150 -f 7 -l 7 -gray -tiff -tiffcompression packbits "$s" "$T/scan"
  der tiff scan-grey-packbits.tif zsh-doc "pdftoppm -r 150 -gray -tiff packbits of page 7 of zsh.pdf (a scanned page)" "$(ls "$T"/scan*.tif)"
fi
if s=$(src krank $KR/level-16.jpg); then
  vips thumbnail "$s" "$T/t.png" 1200 && heif-enc -q 60 "$T/t.png" -o "$T/t.heic" >/dev/null
  head -c $(($(stat -c %s "$T/t.heic") / 2)) "$T/t.heic" >"$T/th.heic"
  der heic truncated-half.heic krank "the first half of a heif-enc -q 60 HEIC of a 1200 px thumbnail of $KR/level-16.jpg" "$T/th.heic"
fi

# --- manifest, summary, cleanup ----------------------------------------------------------------------
{ printf 'file\tbytes\tsource_package\thow_made\n'; sort "$M"; } >"$dest/MANIFEST.tsv"
rm -rf "$X" "$T" "$M"
touch "$dest/.done"
for f in jpeg png gif webp svg pdf avif heic tiff bmp; do printf '%s %s  ' "$f" "$(ls "$dest/$f" | wc -l)"; done >&2
log "$(($(wc -l <"$dest/MANIFEST.tsv") - 1)) files, $(du -sh --exclude=.debs "$dest" | cut -f1), $((SECONDS - t0)) s"
echo "$dest"
