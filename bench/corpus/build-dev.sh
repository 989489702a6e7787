#!/bin/bash
# Builds a corpus of real-world files for benchmarks and manual checks from Debian packages:
# photos (JPEG), graphics with and without alpha (PNG), WebP, SVG, GIF and PDF manuals.
# Usage: bench/corpus/build-dev.sh [DEST]   (default DEST: crush-dev-corpus in the system's temporary folder). Idempotent.
# Needs apt-get (Debian package downloads) and dpkg; downloads about 200 MB once.
set -euo pipefail
dest=${1:-$(dirname "$(mktemp -u)")/crush-dev-corpus}
[[ -f $dest/.done ]] && { echo "$dest"; exit 0; }
mkdir -p "$dest"/{jpeg,png,webp,svg,gif,pdf} "$dest/.debs" "$dest/.x"
cd "$dest/.debs"
apt-get update -qq >/dev/null 2>&1 || true
apt-get download -qq mate-backgrounds plasma-workspace-wallpapers ukui-wallpapers gnome-backgrounds octave-doc libtk8.6 tk8.6-doc >/dev/null 2>&1
for f in *.deb; do dpkg -x "$f" "$dest/.x"; done
x=$dest/.x/usr/share
for n in BytheWater EveningGlow FallenLeaf Kite OneStandsOut summer_1am; do
  cp "$x/wallpapers/$n/contents/images/2560x1600.jpg" "$dest/jpeg/$n.jpg"
done
cp "$x/backgrounds/mate/nature/"{FreshFlower,TwoWings,YellowFlower,Wood,Blinds}.jpg "$dest/jpeg/"
cp "$x/backgrounds/"{calla,desert,fluent-color,city}.png "$dest/png/"
cp "$x/backgrounds/mate/abstract/"{Silk,Waves,Gulp}.png "$dest/png/"
cp "$x/backgrounds/gnome/"{grid-l,licorice-d}.webp "$dest/webp/"
cp "$x/backgrounds/gnome/"{oceans,drool-l,field-d}.svg "$dest/svg/"
for g in logoLarge.gif pwrdLogo200.gif earth.gif earthris.gif; do find "$x" -name "$g" -exec cp {} "$dest/gif/" \; -quit; done
cp "$x/doc/octave/liboctave.pdf" "$x/doc/octave/refcard-letter.pdf" "$dest/pdf/"
# Image-heavy PDFs, the kind users send most: photos and lossless graphics embedded as-is (img2pdf).
command -v img2pdf >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq img2pdf >/dev/null 2>&1
img2pdf --pagesize A4 "$dest/jpeg/"{Kite,Wood,TwoWings}.jpg -o "$dest/pdf/photo-album.pdf"
img2pdf --pagesize A4 "$dest/png/"{calla,desert}.png -o "$dest/pdf/graphics-brochure.pdf"
touch "$dest/.done"
echo "$dest"
