using System;
using System.Buffers.Binary;
using System.IO;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;

namespace OptGen;

/// <summary>Saving and loading the optimizer's state: see <c>docs/training.md</c> for the format.</summary>
public abstract partial class Optimizer
{
    /// <summary>The first 8 bytes of every checkpoint.</summary>
    internal static ReadOnlySpan<byte> CheckpointMagic => "OPTGCKPT"u8;

    /// <summary>The format version this build writes and reads.</summary>
    internal const uint CheckpointVersion = 1;

    private const int MaxNameBytes = 1 << 16;

    /// <summary>Flag bit 0: the state buffers are stored as bfloat16 (2 bytes per element) rather than float32.</summary>
    private const uint BFloat16StateFlag = 1;

    /// <summary>
    /// Saves the rule's identity, the step count, every group's hyperparameters, the layout and every state buffer to
    /// <paramref name="path"/>, atomically: the data goes to a temporary file in the same folder, is flushed to disk,
    /// and then renamed over <paramref name="path"/>, so a crash leaves either the old file or the new one.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty.</exception>
    public void SaveCheckpoint(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string target = Path.GetFullPath(path);
        string temporary = $"{target}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                SaveCheckpoint(file);
                file.Flush(flushToDisk: true);
            }

            File.Move(temporary, target, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    /// <summary>Writes a checkpoint to <paramref name="stream"/> (not atomic; prefer <see cref="SaveCheckpoint(string)"/> for files).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> is null.</exception>
    public void SaveCheckpoint(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using StepGuard guard = EnterGuard(nameof(SaveCheckpoint));
        var writer = new HashingWriter(stream);
        writer.Write(CheckpointMagic);
        writer.WriteUInt32(CheckpointVersion);
        writer.WriteUInt32(StatePrecision == StatePrecision.BFloat16 ? BFloat16StateFlag : 0u);
        writer.WriteInt64(CheckpointSize());
        writer.WriteString(Descriptor.Name);
        writer.WriteString(Descriptor.RuleId);
        writer.WriteInt64(StepCount);
        writer.WriteUInt32((uint)Descriptor.Hyperparameters.Count);
        foreach (HyperparameterDescriptor h in Descriptor.Hyperparameters)
        {
            writer.WriteString(h.Name);
        }

        writer.WriteUInt32((uint)Descriptor.States.Count);
        foreach (StateDescriptor s in Descriptor.States)
        {
            writer.WriteString(s.Name);
        }

        writer.WriteUInt32((uint)Layout.GroupCount);
        for (int k = 0; k < Layout.GroupCount; k++)
        {
            writer.WriteUInt32((uint)Layout.TensorCountOf(k));
            for (int j = Layout.FirstTensorOf(k); j < Layout.FirstTensorOf(k) + Layout.TensorCountOf(k); j++)
            {
                writer.WriteUInt32((uint)Layout.LengthOf(j));
            }
        }

        foreach (double[] group in _groupHyperparameters)
        {
            foreach (double value in group)
            {
                writer.WriteInt64(BitConverter.DoubleToInt64Bits(value));
            }
        }

        // Carried host scalars (e.g. NAdam's Πμ), per group.
        writer.WriteUInt32((uint)Descriptor.HostStates.Count);
        foreach (double[] group in _groupHostState)
        {
            foreach (double value in group)
            {
                writer.WriteInt64(BitConverter.DoubleToInt64Bits(value));
            }
        }

        for (int k = 0; k < _state.Count; k++)
        {
            for (int j = 0; j < Layout.TensorCount; j++)
            {
                for (int start = 0; start < Layout.LengthOf(j); start += ChunkElements)
                {
                    writer.WriteElements(ElementBytes(_state, k, Layout.StateOffsetOf(j) + start, Math.Min(ChunkElements, Layout.LengthOf(j) - start)));
                }
            }
        }

        writer.WriteChecksum();
    }

    /// <summary>
    /// Loads a checkpoint saved by <see cref="SaveCheckpoint(string)"/> from an optimizer of the same rule and layout:
    /// the step count, every group's hyperparameters and every state buffer. Schedules are not stored (they are code);
    /// they continue from the restored step count.
    /// </summary>
    /// <exception cref="CheckpointException">
    /// The file is not a checkpoint, is of another version, truncated, corrupted (checksum), or was saved by another
    /// rule or layout. The whole file is checked before anything is changed: the optimizer is left exactly as it was.
    /// </exception>
    public void LoadCheckpoint(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using StepGuard guard = EnterGuard(nameof(LoadCheckpoint));
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        LoadCheckpoint(file, file.Length);
    }

    /// <summary>Loads a checkpoint from <paramref name="stream"/>, reading exactly the checkpoint's bytes; see <see cref="LoadCheckpoint(string)"/>.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> is null.</exception>
    /// <exception cref="CheckpointException">The checkpoint is rejected; the optimizer is left exactly as it was.</exception>
    public void LoadCheckpoint(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using StepGuard guard = EnterGuard(nameof(LoadCheckpoint));
        LoadCheckpoint(stream, available: -1);
    }

    private void LoadCheckpoint(Stream stream, long available)
    {
        var reader = new HashingReader(stream);
        Span<byte> magic = stackalloc byte[8];
        reader.Read(magic);
        if (!magic.SequenceEqual(CheckpointMagic))
        {
            throw new CheckpointException(CheckpointError.NotACheckpoint, "The data is not an OptGen optimizer checkpoint (wrong magic bytes).");
        }

        uint version = reader.ReadUInt32();
        if (version != CheckpointVersion)
        {
            throw new CheckpointException(CheckpointError.UnsupportedVersion, $"The checkpoint has format version {version}; this build reads version {CheckpointVersion}.");
        }

        uint flags = reader.ReadUInt32();
        if ((flags & ~BFloat16StateFlag) != 0)
        {
            throw new CheckpointException(CheckpointError.Corrupted, $"The checkpoint has unknown flags 0x{flags:X8}.");
        }

        int elementSize = (flags & BFloat16StateFlag) != 0 ? sizeof(ushort) : sizeof(float);
        long size = reader.ReadInt64();
        if (available >= 0 && available < size)
        {
            throw new CheckpointException(CheckpointError.Truncated, $"The checkpoint is truncated: {available} bytes of {size}.");
        }

        if (available >= 0 && available > size)
        {
            throw new CheckpointException(CheckpointError.Corrupted, $"The checkpoint has {available - size} bytes after its end.");
        }

        string name = reader.ReadString();
        string ruleId = reader.ReadString();
        long stepCount = reader.ReadInt64();
        string[] hyperparameters = new string[reader.ReadCount(1024)];
        for (int i = 0; i < hyperparameters.Length; i++)
        {
            hyperparameters[i] = reader.ReadString();
        }

        string[] states = new string[reader.ReadCount(1024)];
        for (int i = 0; i < states.Length; i++)
        {
            states[i] = reader.ReadString();
        }

        var groups = new int[reader.ReadCount(1 << 20)][];
        long elements = 0;
        for (int k = 0; k < groups.Length; k++)
        {
            groups[k] = new int[reader.ReadCount(1 << 24)];
            for (int j = 0; j < groups[k].Length; j++)
            {
                groups[k][j] = reader.ReadCount(Array.MaxLength);
                elements += groups[k][j];
            }
        }

        bool sameRule = name == Descriptor.Name && ruleId == Descriptor.RuleId
            && hyperparameters.AsSpan().SequenceEqual(NamesOf(Descriptor))
            && states.Length == Descriptor.States.Count;
        for (int i = 0; sameRule && i < states.Length; i++)
        {
            sameRule = states[i] == Descriptor.States[i].Name;
        }

        bool sameShape = groups.Length == Layout.GroupCount;
        for (int k = 0; sameShape && k < groups.Length; k++)
        {
            sameShape = groups[k].Length == Layout.TensorCountOf(k);
            for (int j = 0; sameShape && j < groups[k].Length; j++)
            {
                sameShape = groups[k][j] == Layout.LengthOf(Layout.FirstTensorOf(k) + j);
            }
        }

        var values = new double[groups.Length][];
        for (int k = 0; k < groups.Length; k++)
        {
            values[k] = new double[hyperparameters.Length];
            for (int i = 0; i < hyperparameters.Length; i++)
            {
                values[k][i] = BitConverter.Int64BitsToDouble(reader.ReadInt64());
            }
        }

        uint hostCount = reader.ReadUInt32();
        if (hostCount > 1024)
        {
            throw new CheckpointException(CheckpointError.Corrupted, $"The checkpoint claims {hostCount} carried host scalars.");
        }

        var hostValues = new double[groups.Length][];
        for (int k = 0; k < groups.Length; k++)
        {
            hostValues[k] = new double[hostCount];
            for (int i = 0; i < hostCount; i++)
            {
                hostValues[k][i] = BitConverter.Int64BitsToDouble(reader.ReadInt64());
            }
        }

        // Stage the state into a fresh allocation of this optimizer's shape (or only hash it, when it cannot fit).
        bool samePrecision = elementSize == _state.ElementSize;
        StateStorage? staged = sameRule && sameShape && samePrecision ? new StateStorage(_state.Count, Layout.StateLength, elementSize) : null;
        if (staged is not null)
        {
            InitializeState(staged);
            for (int k = 0; k < staged.Count; k++)
            {
                for (int j = 0; j < Layout.TensorCount; j++)
                {
                    for (int start = 0; start < Layout.LengthOf(j); start += ChunkElements)
                    {
                        reader.Read(ElementBytes(staged, k, Layout.StateOffsetOf(j) + start, Math.Min(ChunkElements, Layout.LengthOf(j) - start)));
                    }
                }
            }
        }
        else
        {
            reader.Skip(checked(states.Length * elements * elementSize));
        }

        reader.VerifyChecksum();

        if (!sameRule)
        {
            throw new CheckpointException(CheckpointError.WrongRule, $"The checkpoint was saved by rule '{name}' ({ruleId}); this optimizer is '{Descriptor.Name}' ({Descriptor.RuleId}).");
        }

        if (!sameShape)
        {
            throw new CheckpointException(CheckpointError.WrongShape, $"The checkpoint holds {groups.Length} group(s) of tensor lengths [{string.Join("; ", Array.ConvertAll(groups, g => string.Join(", ", g)))}], which is not this optimizer's layout.");
        }

        if (!samePrecision)
        {
            throw new CheckpointException(CheckpointError.WrongShape, $"The checkpoint stores the state as {(elementSize == sizeof(float) ? "float32" : "bfloat16")}; this optimizer's state is {StatePrecision}. Call ChangeStatePrecision first.");
        }

        if (stepCount < 0)
        {
            throw new CheckpointException(CheckpointError.Corrupted, $"The checkpoint's step count, {stepCount}, is negative.");
        }

        for (int k = 0; k < values.Length; k++)
        {
            for (int i = 0; i < values[k].Length; i++)
            {
                if (!Descriptor.Hyperparameters[i].Accepts(values[k][i]))
                {
                    throw new CheckpointException(CheckpointError.Corrupted, $"The checkpoint's {hyperparameters[i]} of group {k}, {values[k][i]}, is out of range.");
                }
            }
        }

        if (hostCount != Descriptor.HostStates.Count)
        {
            throw new CheckpointException(CheckpointError.Corrupted, $"The checkpoint holds {hostCount} carried host scalars; the rule has {Descriptor.HostStates.Count}.");
        }

        // Everything is checked: commit.
        for (int k = 0; k < values.Length; k++)
        {
            values[k].CopyTo(_groupHyperparameters[k], 0);
            hostValues[k].CopyTo(_groupHostState[k], 0);
        }

        _state = staged!;
        StepCount = stepCount;
    }

    /// <summary>State is written and read in pieces of this many elements, so no byte span exceeds 2 GiB.</summary>
    private const int ChunkElements = 1 << 24;

    /// <summary>The bytes of elements [start, start + length) of plane <paramref name="k"/>.</summary>
    private static Span<byte> ElementBytes(StateStorage state, int k, int start, int length) =>
        state.ElementSize == sizeof(float)
            ? MemoryMarshal.AsBytes(state.Elements<float>(k, start, length))
            : MemoryMarshal.AsBytes(state.Elements<ushort>(k, start, length));

    private static string[] NamesOf(OptimizerDescriptor descriptor)
    {
        var names = new string[descriptor.Hyperparameters.Count];
        for (int i = 0; i < names.Length; i++)
        {
            names[i] = descriptor.Hyperparameters[i].Name;
        }

        return names;
    }

    /// <summary>The exact size of this optimizer's checkpoint, in bytes.</summary>
    private long CheckpointSize()
    {
        long size = 8 + 4 + 4 + 8; // magic, version, flags, size
        size += StringSize(Descriptor.Name) + StringSize(Descriptor.RuleId) + 8;
        size += 4;
        foreach (HyperparameterDescriptor h in Descriptor.Hyperparameters)
        {
            size += StringSize(h.Name);
        }

        size += 4;
        foreach (StateDescriptor s in Descriptor.States)
        {
            size += StringSize(s.Name);
        }

        size += 4 + (4L * Layout.GroupCount) + (4L * Layout.TensorCount);
        size += 8L * Layout.GroupCount * Descriptor.Hyperparameters.Count;
        size += 4 + (8L * Layout.GroupCount * Descriptor.HostStates.Count);
        size += (long)_state.ElementSize * _state.Count * Layout.TotalLength;
        return size + 4; // checksum

        static long StringSize(string text) => 4 + Encoding.UTF8.GetByteCount(text);
    }

    /// <summary>Writes little-endian fields and keeps a CRC-32 of every byte written.</summary>
    private sealed class HashingWriter(Stream stream)
    {
        private readonly Crc32 _crc = new();

        public void Write(ReadOnlySpan<byte> bytes)
        {
            _crc.Append(bytes);
            stream.Write(bytes);
        }

        public void WriteUInt32(uint value)
        {
            Span<byte> bytes = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
            Write(bytes);
        }

        public void WriteInt64(long value)
        {
            Span<byte> bytes = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
            Write(bytes);
        }

        public void WriteString(string text)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(text);
            WriteUInt32((uint)bytes.Length);
            Write(bytes);
        }

        public void WriteElements(ReadOnlySpan<byte> values)
        {
            if (!BitConverter.IsLittleEndian)
            {
                throw new PlatformNotSupportedException("Checkpoints are written on little-endian machines only.");
            }

            Write(values);
        }

        public void WriteChecksum()
        {
            Span<byte> bytes = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(bytes, _crc.GetCurrentHashAsUInt32());
            stream.Write(bytes);
        }
    }

    /// <summary>Reads little-endian fields, keeps a CRC-32 of every byte read, and turns a short read into <see cref="CheckpointError.Truncated"/>.</summary>
    private sealed class HashingReader(Stream stream)
    {
        private readonly Crc32 _crc = new();

        public void Read(Span<byte> bytes)
        {
            ReadRaw(bytes);
            _crc.Append(bytes);
        }

        public uint ReadUInt32()
        {
            Span<byte> bytes = stackalloc byte[4];
            Read(bytes);
            return BinaryPrimitives.ReadUInt32LittleEndian(bytes);
        }

        public long ReadInt64()
        {
            Span<byte> bytes = stackalloc byte[8];
            Read(bytes);
            return BinaryPrimitives.ReadInt64LittleEndian(bytes);
        }

        public int ReadCount(int maximum)
        {
            uint value = ReadUInt32();
            if (value > (uint)maximum)
            {
                throw new CheckpointException(CheckpointError.Corrupted, $"The checkpoint holds an impossible count, {value} (at most {maximum}).");
            }

            return (int)value;
        }

        public string ReadString()
        {
            byte[] bytes = new byte[ReadCount(MaxNameBytes)];
            Read(bytes);
            return Encoding.UTF8.GetString(bytes);
        }

        public void Skip(long bytes)
        {
            byte[] buffer = new byte[(int)Math.Min(bytes, 1 << 16)];
            while (bytes > 0)
            {
                int chunk = (int)Math.Min(bytes, buffer.Length);
                Read(buffer.AsSpan(0, chunk));
                bytes -= chunk;
            }
        }

        public void VerifyChecksum()
        {
            uint computed = _crc.GetCurrentHashAsUInt32();
            Span<byte> bytes = stackalloc byte[4];
            ReadRaw(bytes);
            uint stored = BinaryPrimitives.ReadUInt32LittleEndian(bytes);
            if (stored != computed)
            {
                throw new CheckpointException(CheckpointError.Corrupted, $"The checkpoint's CRC-32 is 0x{stored:X8} but its contents hash to 0x{computed:X8}: the file is corrupted.");
            }
        }

        private void ReadRaw(Span<byte> bytes)
        {
            try
            {
                stream.ReadExactly(bytes);
            }
            catch (EndOfStreamException)
            {
                throw new CheckpointException(CheckpointError.Truncated, "The checkpoint ends early: it is truncated.");
            }
        }
    }
}
