"""Render short multitrack songs to stems, a reference mix and "estimate" mixes.

Test and bench tooling, not part of the library. It needs FluidSynth and a General MIDI
soundfont::

    apt-get install fluidsynth fluid-soundfont-gm      # /usr/share/sounds/sf2/FluidR3_GM.sf2

Run it from the repository root (numpy, scipy and soundfile from the project's venv)::

    python -m bench.render_music                      # writes /work/music/
    python -m bench.render_music --out DIR --songs pop_c_112 --sf2 PATH

For each song it writes MIDI files (one per instrument, bytes written here, no MIDI
library needed), renders each with ``fluidsynth -ni -F stem.wav -r 44100 -O float``, and
then, with NumPy:

* ``SONG/stems/INSTRUMENT.wav``: each stem as it enters the reference mix (balanced,
  panned, scaled by the mix's normalisation), so the stems sum to ``ref.wav``;
* ``SONG/ref.wav``: the reference mix, peak 0.89 (-1 dBFS);
* ``SONG/est-KIND.wav``: mixes a mixing system might produce instead (see ESTIMATES);
* ``SONG/sr48000/``, ``sr24000/``, ``sr22050/``: the mixes resampled with
  ``scipy.signal.resample_poly`` (stems only at 44100 Hz);
* ``SONG/midi/*.mid`` and, at the end, ``OUT/READY`` listing every file written.

All WAV files are float32, stereo, laid out (frames, 2) as soundfile reads them. The
songs are generated from fixed seeds: the same script gives the same notes; the audio
depends on the FluidSynth version (2.3.1 made the first set).
"""

import argparse
import os
import shutil
import struct
import subprocess
import tempfile

import numpy as np
import soundfile
from scipy.signal import lfilter, resample_poly

SAMPLE_RATE = 44100
OTHER_RATES = (48000, 24000, 22050)
DEFAULT_SF2 = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
TICKS_PER_BEAT = 480
DRUM_CHANNEL = 9  # General MIDI channel 10, counted from 0
PEAK = 0.89
MELODIC = ("bass", "keys", "pad", "lead")  # MIDI channels 1-4, in this order

# GM drum notes
KICK, SNARE, CLOSED_HAT, OPEN_HAT, CRASH, RIDE, CLAP = 36, 38, 42, 46, 49, 51, 39

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)

# name, tempo (bpm), beats per bar, tonic (MIDI note of the bass octave), scale,
# progression (scale degrees, one chord per bar, repeated), bars, GM programs
# (bass, keys, pad, lead), drum style, seed
SONGS = {
    "pop_c_112": dict(tempo=112, beats=4, tonic=36, scale=MAJOR, progression=(0, 4, 5, 3),
                      bars=16, programs=dict(bass=33, keys=0, pad=48, lead=80),
                      drums="rock", seed=1),
    "ballad_am_72": dict(tempo=72, beats=4, tonic=33, scale=MINOR, progression=(0, 5, 2, 6),
                         bars=8, programs=dict(bass=32, keys=4, pad=49, lead=73),
                         drums="ballad", seed=2),
    "funk_e_98": dict(tempo=98, beats=4, tonic=28, scale=MINOR, progression=(0, 0, 3, 4),
                      bars=12, programs=dict(bass=36, keys=16, pad=89, lead=65),
                      drums="funk", seed=3),
    "waltz_bb_150": dict(tempo=150, beats=3, tonic=34, scale=MAJOR,
                         progression=(0, 3, 4, 0, 5, 1, 4, 4), bars=24,
                         programs=dict(bass=42, keys=6, pad=50, lead=71), drums="waltz", seed=4),
}

# reference balance: gain (dB) and pan (-1 left .. 1 right) per stem
BALANCE = dict(drums=(2.0, 0.0), bass=(-2.0, 0.0), keys=(-5.0, -0.35), pad=(-8.0, 0.45),
               lead=(-6.0, 0.15))


# --- MIDI bytes --------------------------------------------------------------------------

def _variable_length(value):
    """MIDI variable-length quantity."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def midi_bytes(notes, tempo, channel, program):
    """A format-0 MIDI file. notes: (start_tick, length_ticks, pitch, velocity)."""
    events = [(0, 0, b"\xff\x51\x03" + struct.pack(">I", int(60e6 / tempo))[1:])]
    if channel != DRUM_CHANNEL:
        events.append((0, 1, bytes([0xC0 | channel, program])))
    for start, length, pitch, velocity in notes:
        # at equal ticks, note-offs (order 2) go before note-ons (order 3)
        events.append((start, 3, bytes([0x90 | channel, pitch, velocity])))
        events.append((start + length, 2, bytes([0x80 | channel, pitch, 0])))
    events.sort(key=lambda e: (e[0], e[1]))
    track, now = bytearray(), 0
    for tick, _, data in events:
        track += _variable_length(tick - now) + data
        now = tick
    track += _variable_length(TICKS_PER_BEAT) + b"\xff\x2f\x00"  # one beat of tail
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_BEAT)
    return header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)


# --- composition -------------------------------------------------------------------------

def _pitch(song, degree, octave=0):
    """MIDI pitch of a scale degree (may exceed 7) above the song's bass tonic."""
    scale = song["scale"]
    return song["tonic"] + 12 * (octave + degree // 7) + scale[degree % 7]


def compose(song):
    """Notes per instrument: dict name -> list of (start, length, pitch, velocity)."""
    rng = np.random.default_rng(song["seed"])
    beat, beats = TICKS_PER_BEAT, song["beats"]
    bar = beat * beats
    parts = {name: [] for name in ("drums", "bass", "keys", "pad", "lead")}
    melody_degree = 7
    for b in range(song["bars"]):
        root = song["progression"][b % len(song["progression"])]
        start = b * bar
        chord = [root, root + 2, root + 4]
        last_bar = b == song["bars"] - 1
        # pad: the chord held the whole bar, an octave above the keys' register
        for d in chord:
            parts["pad"].append((start, bar, _pitch(song, d, 2), 70))
        # bass: root on the beat, a passing fifth or octave between
        for k in range(beats):
            if song["drums"] == "funk":
                for half, d, o in ((0, root, 0), (beat // 2, root + (4 if k % 2 else 7), 0)):
                    parts["bass"].append((start + k * beat + half, beat // 2 - 30,
                                          _pitch(song, d, o), 100 if half == 0 else 80))
            else:
                d = root if k % 2 == 0 else root + 4
                parts["bass"].append((start + k * beat, beat - 40, _pitch(song, d), 100))
        # keys: chord comping, style by song
        if song["drums"] == "waltz":
            parts["keys"] += [(start, beat - 20, _pitch(song, root, 1), 85)]
            for k in (1, 2):
                parts["keys"] += [(start + k * beat, beat - 60, _pitch(song, d, 2), 70)
                                  for d in chord]
        elif song["drums"] == "ballad":
            for k in range(2 * beats):  # arpeggio in eighths
                d = chord[k % 3] + 7 * (k // 3 % 2)
                parts["keys"].append((start + k * beat // 2, beat, _pitch(song, d, 2), 72))
        else:
            for k in range(beats):
                offset = beat // 2 if song["drums"] == "funk" else 0
                parts["keys"] += [(start + k * beat + offset, beat // 2, _pitch(song, d, 2), 78)
                                  for d in chord]
        # lead: a random walk on the scale, leaning on chord tones on strong beats
        step = beat if song["drums"] in ("ballad", "waltz") else beat // 2
        t = 0
        while t < bar and not last_bar:
            if t % beat == 0 and rng.random() < 0.6:
                target = [d + 7 for d in chord]
                melody_degree = min(target, key=lambda d: abs(d - melody_degree))
            else:
                melody_degree += int(rng.choice((-2, -1, -1, 1, 1, 2)))
                melody_degree = int(np.clip(melody_degree, 4, 14))
            length = step * int(rng.choice((1, 1, 2)))
            length = min(length, bar - t)
            if rng.random() > 0.12:
                parts["lead"].append((start + t, length - 20, _pitch(song, melody_degree, 3),
                                      int(rng.integers(80, 110))))
            t += length
        if last_bar:
            parts["lead"].append((start, bar, _pitch(song, root + 7, 3), 90))
        parts["drums"] += drum_bar(song["drums"], start, beat, beats, b, rng)
    return parts


def drum_bar(style, start, beat, beats, index, rng):
    notes = []

    def hit(at, note, velocity):
        notes.append((start + int(at), 60, note, velocity))

    if index % 4 == 0:
        hit(0, CRASH, 100)
    if style == "rock":
        for k in range(beats):
            hit(k * beat, KICK if k % 2 == 0 else SNARE, 110)
            for h in range(2):
                hit(k * beat + h * beat // 2, CLOSED_HAT, 80 if h == 0 else 60)
        if index % 2:
            hit(2.5 * beat, KICK, 95)
    elif style == "ballad":
        hit(0, KICK, 90)
        hit(2 * beat, SNARE, 80)
        for k in range(beats):
            hit(k * beat, RIDE, 60)
    elif style == "funk":
        for k in range(4 * beats):  # sixteenths
            hit(k * beat // 4, CLOSED_HAT, 75 if k % 2 == 0 else 45)
        for at in (0, 0.75 * beat, 2.5 * beat):
            hit(at, KICK, 110)
        for at in (beat, 3 * beat):
            hit(at, SNARE, 110)
        if rng.random() < 0.5:
            hit(3.75 * beat, SNARE, 60)
        hit(3.5 * beat, OPEN_HAT, 70)
    elif style == "waltz":
        hit(0, KICK, 100)
        hit(beat, CLOSED_HAT, 70)
        hit(2 * beat, CLOSED_HAT, 70)
        if index % 2:
            hit(2 * beat, SNARE, 70)
    return notes


# --- rendering and mixing ----------------------------------------------------------------

def render(midi_path, wav_path, sf2, rate):
    """Render one MIDI file with FluidSynth; return float64 (frames, 2)."""
    subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.5", "-F", wav_path, "-r", str(rate),
                    "-O", "float", "-T", "wav", sf2, midi_path],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    audio, got_rate = soundfile.read(wav_path, dtype="float64", always_2d=True)
    assert got_rate == rate and audio.shape[1] == 2
    return audio


def pan_gains(pan):
    """Constant-power pan law: (left, right) gains for pan in [-1, 1]."""
    angle = (pan + 1) * np.pi / 4
    return np.cos(angle) * np.sqrt(2), np.sin(angle) * np.sqrt(2)


def place(stem, gain_db, pan):
    """Balance and pan a stereo stem (keeping its own stereo image, e.g. reverb)."""
    left, right = pan_gains(pan)
    g = 10 ** (gain_db / 20)
    return stem * g * np.array([left, right])


def tilt(x, rate, db_per_side=1.5, corner=1000.0):
    """A gentle EQ tilt: lows down and highs up by db_per_side around a one-pole split."""
    a = np.exp(-2 * np.pi * corner / rate)
    low = lfilter([1 - a], [1, -a], x, axis=0)
    return low * 10 ** (-db_per_side / 20) + (x - low) * 10 ** (db_per_side / 20)


def estimates(raw_stems, rate, seed):
    """The reference mix and the estimates: dict kind -> (description, mix), unscaled."""
    rng = np.random.default_rng(1000 + seed)
    ref_mix = sum(place(raw_stems[n], *BALANCE[n]) for n in raw_stems)
    out = {}
    out["gains"] = ("each stem's gain off by a random -6..+6 dB",
                    sum(place(raw_stems[n], BALANCE[n][0] + rng.uniform(-6, 6), BALANCE[n][1])
                        for n in raw_stems))
    out["pans"] = ("each stem panned elsewhere (random -0.8..0.8)",
                   sum(place(raw_stems[n], BALANCE[n][0], rng.uniform(-0.8, 0.8))
                       for n in raw_stems))
    out["nolead"] = ("the lead stem missing",
                     sum(place(raw_stems[n], *BALANCE[n]) for n in raw_stems if n != "lead"))
    out["nodrums"] = ("the drum stem missing",
                      sum(place(raw_stems[n], *BALANCE[n]) for n in raw_stems if n != "drums"))
    out["swapped"] = ("left and right channels swapped", ref_mix[:, ::-1])
    out["tilt"] = ("EQ tilt: -1.5 dB below / +1.5 dB above a 1 kHz one-pole split",
                   tilt(ref_mix, rate))
    out["plus2db"] = ("the reference mix 2 dB louder", ref_mix * 10 ** (2 / 20))
    out["mono"] = ("mono fold-down (L+R)/2 on both channels",
                   np.repeat(ref_mix.mean(axis=1, keepdims=True), 2, axis=1))
    return ref_mix, out


def write(path, audio, rate, listing):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    soundfile.write(path, audio.astype(np.float32), rate, subtype="FLOAT")
    listing.append((path, rate, audio.shape[0]))


def resample(audio, rate):
    g = np.gcd(rate, SAMPLE_RATE)
    return resample_poly(audio, rate // g, SAMPLE_RATE // g, axis=0)


def make_song(name, song, out_dir, sf2, listing, notes_out):
    song_dir = os.path.join(out_dir, name)
    midi_dir = os.path.join(song_dir, "midi")
    os.makedirs(midi_dir, exist_ok=True)
    parts = compose(song)
    beat_s = 60 / song["tempo"]
    length = int(round(song["bars"] * song["beats"] * beat_s * SAMPLE_RATE)) + SAMPLE_RATE
    raw = {}
    with tempfile.TemporaryDirectory() as tmp:
        for part, notes in parts.items():
            channel = DRUM_CHANNEL if part == "drums" else MELODIC.index(part)
            program = song["programs"].get(part, 0)
            midi_path = os.path.join(midi_dir, part + ".mid")
            with open(midi_path, "wb") as f:
                f.write(midi_bytes(notes, song["tempo"], channel, program))
            audio = render(midi_path, os.path.join(tmp, part + ".wav"), sf2, SAMPLE_RATE)
            fitted = np.zeros((length, 2))
            n = min(length, audio.shape[0])
            fitted[:n] = audio[:n]
            raw[part] = fitted
    ref_mix, ests = estimates(raw, SAMPLE_RATE, song["seed"])
    scale = PEAK / np.abs(ref_mix).max()  # one factor for all, so level differences stay
    for part in raw:
        write(os.path.join(song_dir, "stems", part + ".wav"),
              place(raw[part], *BALANCE[part]) * scale, SAMPLE_RATE, listing)
    mixes = {"ref": ref_mix * scale}
    for kind, (description, mix) in ests.items():
        mixes["est-" + kind] = mix * scale
        notes_out.setdefault(kind, description)
    for mix_name, mix in mixes.items():
        write(os.path.join(song_dir, mix_name + ".wav"), mix, SAMPLE_RATE, listing)
        for rate in OTHER_RATES:
            write(os.path.join(song_dir, "sr%d" % rate, mix_name + ".wav"),
                  resample(mix, rate), rate, listing)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/work/music")
    parser.add_argument("--sf2", default=DEFAULT_SF2)
    parser.add_argument("--songs", nargs="*", default=list(SONGS))
    args = parser.parse_args(argv)
    if shutil.which("fluidsynth") is None or not os.path.exists(args.sf2):
        raise SystemExit("needs fluidsynth and %s: apt-get install fluidsynth "
                         "fluid-soundfont-gm" % args.sf2)
    ready = os.path.join(args.out, "READY")
    if os.path.exists(ready):
        os.remove(ready)
    listing, descriptions = [], {}
    for name in args.songs:
        make_song(name, SONGS[name], args.out, args.sf2, listing, descriptions)
        print("rendered", name, flush=True)
    with open(ready, "w") as f:
        f.write("# written by bench/render_music.py; float32 stereo WAV, (frames, 2)\n")
        f.write("# stems sum to ref.wav; srNNNNN/ hold resample_poly copies of the mixes\n")
        for kind, description in descriptions.items():
            f.write("# est-%s: %s\n" % (kind, description))
        f.write("# path\trate\tframes\tseconds\n")
        for path, rate, frames in listing:
            f.write("%s\t%d\t%d\t%.2f\n" % (path, rate, frames, frames / rate))


if __name__ == "__main__":
    main()
