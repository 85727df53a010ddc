using System;
using System.Collections.Generic;
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

    /// <summary>The format version this build writes for state of one precision (every file before per-group precision).</summary>
    internal const uint CheckpointVersion = 1;

    /// <summary>
    /// The format version this build writes when the groups' state precisions differ (flag bit 3, a precision byte
    /// per group); it reads both. An older build refuses such a file as of an unsupported version.
    /// </summary>
    internal const uint GroupPrecisionCheckpointVersion = 2;

    /// <summary>
    /// The format version this build writes for per-tensor state (blockwise, or a precision per group) that keeps
    /// some state buffers in float32 in quantized tensors (<see cref="KeepsFloat32"/>: compact state such as
    /// Adam-mini's per-block second moment); flags and group entries as in version 2. An older build refuses it as
    /// of an unsupported version; this build refuses such state in an older version.
    /// </summary>
    internal const uint Float32PlanesCheckpointVersion = 3;

    private const int MaxNameBytes = 1 << 16;

    /// <summary>Flag bit 0: the state buffers are stored as bfloat16 (2 bytes per element) rather than float32.</summary>
    private const uint BFloat16StateFlag = 1;

    // Set when the batch size is not 1: a uint32 batch size follows the step count. Files without it (every file
    // written before BatchSize existed, and every one with B = 1) load with B = 1, byte for byte as before.
    private const uint BatchSizeFlag = 1u << 8;

    // Set when a rule with an eval mode (AdamWScheduleFree) was saved in it: the caller's parameters held x, the state
    // keeps y. Only set then, so a train-mode file is byte for byte as before; loading it restores the mode.
    private const uint EvalModeFlag = 1u << 9;

    // Set when the rule's state is shaped by the tensors' shapes, not only their lengths (compact state: Adafactor's
    // row and column factors, Adam-mini's rows, declared factored rules): a section of every tensor's shape follows
    // the layout, so that a 3 × 2 matrix's file is refused by a 2 × 3 one (same length, same m + n factors, swapped).
    // Only set then, so every other file is byte for byte as before; an older build refuses it as of unknown flags,
    // and a file without it (written before) loads as before, judged by its lengths and state size.
    private const uint ShapesFlag = 1u << 10;

    /// <summary>Whether this optimizer's checkpoints carry the tensors' shapes (<see cref="ShapesFlag"/>): its state depends on them.</summary>
    private bool StoresShapes => HasCompactState;

    /// <summary>Whether the rule is in its eval mode, for its checkpoint; null for a rule that has none.</summary>
    private protected virtual bool? CheckpointEvalMode => null;

    /// <summary>Takes the eval mode of a loaded checkpoint (called in its commit; cannot fail).</summary>
    private protected virtual void RestoreEvalMode(bool evalMode)
    {
    }

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
    /// <remarks>
    /// The writing half of the format (docs/training.md), and the one to reuse for device state: copy the state to this
    /// optimizer's host state first, so a device checkpoint is byte-for-byte a CPU one. Its reading half is
    /// <see cref="LoadCheckpoint(Stream, long)"/>.
    /// </remarks>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> is null.</exception>
    public void SaveCheckpoint(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using StepGuard guard = EnterGuard(nameof(SaveCheckpoint));

        // Compact state is saved in the shape its saved hyperparameters give it (the loader shapes it from them).
        FitState(null);
        StatePrecision[] precisions = StoredPrecisions();
        bool perGroup = !IsUniform(precisions);
        var writer = new HashingWriter(stream);
        writer.Write(CheckpointMagic);
        writer.WriteUInt32(_blockwise is { HasExtents: true } ? Float32PlanesCheckpointVersion : perGroup ? GroupPrecisionCheckpointVersion : CheckpointVersion);
        writer.WriteUInt32((perGroup ? GroupPrecisionFlag : PrecisionFlag(UniformPrecision(precisions))) | (_batchSize != 1 ? BatchSizeFlag : 0u) | (CheckpointEvalMode == true ? EvalModeFlag : 0u) | (StoresShapes ? ShapesFlag : 0u));
        writer.WriteInt64(CheckpointSize());
        writer.WriteString(Descriptor.Name);
        writer.WriteString(Descriptor.RuleId);
        writer.WriteInt64(StepCount);
        if (_batchSize != 1)
        {
            writer.WriteUInt32((uint)_batchSize);
        }

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
            if (perGroup)
            {
                writer.Write([(byte)precisions[k]]);
            }

            for (int j = Layout.FirstTensorOf(k); j < Layout.FirstTensorOf(k) + Layout.TensorCountOf(k); j++)
            {
                writer.WriteUInt32((uint)Layout.LengthOf(j));
            }
        }

        if (StoresShapes)
        {
            // Per tensor, in layout order: u32 rank, then each dimension (a vector is [length]).
            for (int j = 0; j < Layout.TensorCount; j++)
            {
                int[] dimensions = Layout.ShapeOf(j);
                writer.WriteUInt32((uint)dimensions.Length);
                foreach (int dimension in dimensions)
                {
                    writer.WriteUInt32((uint)dimension);
                }
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

        if (HasSignedness(precisions))
        {
            writer.Write(SignednessBytes());
        }

        VisitStateBytes(StateView, bytes => writer.WriteElements(bytes));
        writer.WriteChecksum();
    }

    /// <summary>
    /// Loads a checkpoint saved by <see cref="SaveCheckpoint(string)"/> from an optimizer of the same rule and layout:
    /// the step count, every group's hyperparameters and every state buffer. Schedules are not stored (they are code);
    /// they continue from the restored step count.
    /// </summary>
    /// <exception cref="CheckpointException">
    /// The file is not a checkpoint, is of another version, truncated, corrupted (checksum, or a field out of range: the
    /// step count, a count or length, a hyperparameter as its setter would refuse it, a carried host scalar), or was
    /// saved by another rule or layout; <see cref="CheckpointException.Field"/> names the field. The whole file is
    /// checked before anything is changed: the optimizer (hyperparameters, state, carried scalars, step count,
    /// schedules) is left exactly as it was. State values are restored exactly as saved, NaN and ±∞ included.
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

    /// <summary>
    /// The largest step count a checkpoint may hold: 2⁵³ − 1, so that the next step number t = count + 1 neither
    /// overflows <see cref="long"/> (at <see cref="long.MaxValue"/> it wrapped to a negative t, and β₁ᵗ made every
    /// parameter NaN) nor loses exactness in the double-precision per-step scalars (β₁ᵗ, ρₜ, 1 + (t − 1)·decay), where
    /// every t up to 2⁵³ is exact. That is 285 years of a million steps a second.
    /// </summary>
    internal const long MaxCheckpointStepCount = (1L << 53) - 1;

    /// <summary>The most hyperparameters, state buffers or carried host scalars a checkpoint may name.</summary>
    private const int MaxNames = 1024;

    /// <summary>The size of the smallest possible checkpoint: every fixed field, every name empty, no groups.</summary>
    private const long MinCheckpointSize = 8 + 4 + 4 + 8 + 4 + 4 + 8 + 4 + 4 + 4 + 4 + 4;

    /// <summary>
    /// The reading half of the format, behind both public <c>LoadCheckpoint</c> overloads (and the entry point for
    /// loading into device state: read into this optimizer's host state, then copy it to the device). It reads
    /// <paramref name="stream"/> from its position; <paramref name="available"/> is the exact number of bytes the
    /// checkpoint must occupy (a file), or −1 when the stream may hold more after it.
    /// </summary>
    /// <remarks>
    /// Every field is range-checked when it is read and before anything is allocated for it: a count or length must
    /// fit in the bytes the checkpoint declares (and a seekable stream must hold those), names are at most 64 KiB,
    /// and only an allocation of this optimizer's own layout is ever made for the state, so a crafted or cut stream
    /// costs at most a few tens of KiB before it is rejected. Then the CRC-32 is verified, and only then the
    /// values are judged (rule, layout, precision, step count, hyperparameters, host scalars), so a corrupted file is
    /// reported as corrupted. The optimizer changes only after everything has passed.
    /// State values are not judged: a NaN or ±∞ in the state of a diverged run is restored exactly as it was saved
    /// (checkpoints of a diverging run are what one debugs it with), and no loader could tell a crafted finite value
    /// from a trained one; the CRC guards against corruption, not against a forger.
    /// </remarks>
    /// <exception cref="CheckpointException">The checkpoint is rejected; <see cref="CheckpointException.Field"/> names the field.</exception>
    internal void LoadCheckpoint(Stream stream, long available)
    {
        ThrowIfStateHeld(nameof(LoadCheckpoint));
        long limit = available >= 0 ? available : stream.CanSeek ? Math.Max(0, stream.Length - stream.Position) : long.MaxValue;
        var reader = new HashingReader(stream);
        Span<byte> magic = stackalloc byte[8];
        reader.Read(magic);
        if (!magic.SequenceEqual(CheckpointMagic))
        {
            throw new CheckpointException(CheckpointError.NotACheckpoint, "magic", "The data is not an OptGen optimizer checkpoint (wrong magic bytes).");
        }

        uint version = reader.ReadUInt32();
        if (version is not (CheckpointVersion or GroupPrecisionCheckpointVersion or Float32PlanesCheckpointVersion))
        {
            throw new CheckpointException(CheckpointError.UnsupportedVersion, "version", $"The checkpoint has format version {version}; this build reads versions {CheckpointVersion} to {Float32PlanesCheckpointVersion}.");
        }

        uint flags = reader.ReadUInt32();
        uint precisionFlag = flags & ~(BatchSizeFlag | GroupPrecisionFlag | EvalModeFlag | ShapesFlag);
        bool perGroup = (flags & GroupPrecisionFlag) != 0;
        if (precisionFlag is not (0u or BFloat16StateFlag or Int8BlockwiseStateFlag or Int4BlockwiseStateFlag) ||
            (perGroup && (precisionFlag != 0 || version < GroupPrecisionCheckpointVersion)) ||
            ((flags & EvalModeFlag) != 0 && CheckpointEvalMode is null))
        {
            throw new CheckpointException(CheckpointError.Corrupted, "flags", $"The checkpoint has unknown flags 0x{flags:X8}.");
        }

        // One precision for every group (the flag), or one per group (a byte in each group's entry of the layout).
        StatePrecision filePrecision = PrecisionOfFlag(precisionFlag);
        int codeBits = BlockwiseBits(filePrecision);
        int elementSize = filePrecision == StatePrecision.BFloat16 ? sizeof(ushort) : sizeof(float);
        var precisions = new PrecisionCheck(this, perGroup, filePrecision);
        long planeBytes = 0;
        long size = reader.ReadInt64();
        if (size < MinCheckpointSize)
        {
            throw new CheckpointException(CheckpointError.Corrupted, "size", $"The checkpoint declares {size} bytes; the smallest checkpoint has {MinCheckpointSize}.");
        }

        if (limit < size)
        {
            throw new CheckpointException(CheckpointError.Truncated, "size", $"The checkpoint is truncated: {limit} bytes of {size}.");
        }

        if (available >= 0 && available > size)
        {
            throw new CheckpointException(CheckpointError.Corrupted, "size", $"The checkpoint has {available - size} bytes after its end.");
        }

        // From here on no field may reach past the declared size (the last 4 bytes are the checksum).
        reader.End = size - 4;
        string name = reader.ReadString("name");
        string ruleId = reader.ReadString("ruleId");
        long stepCount = reader.ReadInt64();
        uint batchSize = (flags & BatchSizeFlag) != 0 ? reader.ReadUInt32() : 1u;

        // The rule: compared name by name as it is read; nothing of the file's length is kept.
        bool sameRule = name == Descriptor.Name && ruleId == Descriptor.RuleId;
        sameRule &= reader.ReadNames("hyperparameter", Descriptor.Hyperparameters, static h => h.Name, out int hyperparameterCount);
        sameRule &= reader.ReadNames("state", Descriptor.States, static s => s.Name, out int stateCount);

        // The layout: compared group by group; only a bounded description is kept for the message.
        int groupCount = reader.ReadCount("group count", int.MaxValue, 4);
        bool sameShape = groupCount == Layout.GroupCount;
        var shape = new LayoutText();
        long elements = 0;
        long fileTensors = 0;
        for (int k = 0; k < groupCount; k++)
        {
            int tensorCount = reader.ReadCount("tensor count", int.MaxValue, 4);
            fileTensors += tensorCount;
            sameShape &= k < Layout.GroupCount && tensorCount == Layout.TensorCountOf(k);
            StatePrecision groupPrecision = precisions.Read(reader, k);
            shape.StartGroup();
            for (int j = 0; j < tensorCount; j++)
            {
                int length = reader.ReadCount("tensor length", Array.MaxLength, 0);
                sameShape = sameShape && length == Layout.LengthOf(Layout.FirstTensorOf(k) + j);
                shape.Add(length);
                elements += length;
                // A shard quantizes by the whole tensor's length (ThresholdLengthOf), which the file's layout does not hold.
                int thresholdLength = sameShape ? ThresholdLengthOf(Layout.FirstTensorOf(k) + j) : length;
                planeBytes += BlockwiseState.TensorBytes(length, TensorBits(groupPrecision, thresholdLength));
                if (elements > int.MaxValue)
                {
                    throw new CheckpointException(CheckpointError.Corrupted, "tensor length", $"The checkpoint's tensor lengths add up to more than {int.MaxValue} elements, more than any layout holds.");
                }
            }
        }

        precisions.ThrowIfNotPerGroup();
        bool hasShapes = (flags & ShapesFlag) != 0;
        string? otherDimensions = hasShapes ? ReadShapes(reader, fileTensors, sameShape) : null;
        bool same = sameRule && sameShape && otherDimensions is null;

        // Per-tensor state of a rule that keeps some buffers in float32 (compact state) has its own layout, version 3.
        bool float32Planes = version == Float32PlanesCheckpointVersion;
        if (float32Planes && !(codeBits != 0 || perGroup))
        {
            throw new CheckpointException(CheckpointError.Corrupted, "version", $"The checkpoint has format version {version}, which stores 8-bit or 4-bit state or a precision per group, but its state is {filePrecision} for every group.");
        }

        if (sameRule && (codeBits != 0 || perGroup) && float32Planes != KeepsFloat32Planes)
        {
            throw new CheckpointException(CheckpointError.Corrupted, "version", float32Planes
                ? $"The checkpoint stores '{Descriptor.Name}''s per-tensor state with buffers kept in float32 (format version {version}); this rule quantizes every buffer (format versions {CheckpointVersion} and {GroupPrecisionCheckpointVersion})."
                : $"The checkpoint stores '{Descriptor.Name}''s per-tensor state in format version {version}, which has no buffers kept in float32; this rule keeps its compact state in float32 in per-tensor state (format version {Float32PlanesCheckpointVersion}).");
        }

        // Every group's hyperparameters and carried host scalars, staged only when the rule and layout match (so the
        // arrays are this optimizer's size), otherwise only hashed.
        double[][]? values = reader.ReadValues("hyperparameters", groupCount, hyperparameterCount, stage: same);
        int hostCount = reader.ReadCount("host scalar count", MaxNames, 0);
        double[][]? hostValues = reader.ReadValues("host scalars", groupCount, hostCount, stage: same && hostCount == Descriptor.HostStates.Count);

        // The state: staged into a fresh allocation of this optimizer's shape, or only hashed.
        bool sameSigns = true;
        if (precisions.HasSignedness)
        {
            // Blockwise state: one byte per buffer, 1 where it uses the signed map (the file's codes mean nothing with the other map).
            byte[] signs = new byte[reader.Require("signedness", stateCount, 1)];
            reader.Read(signs);
            sameSigns = !sameRule || signs.AsSpan().SequenceEqual(SignednessBytes());
        }

        // A rule with compact state stores as many elements as its layout's shapes and the saved hyperparameters give
        // (StateExtents), which the file's tensor lengths do not tell: the file's state is the rest of it.
        long stateBytes;
        StateStorage? shaped = null;
        BlockwiseState? shapedBlockwise = null;
        if (!sameRule || (HasCompactState && codeBits == 0 && !perGroup) || float32Planes)
        {
            stateBytes = reader.End - reader.Position;
            if (same && float32Planes)
            {
                // Shaped by the file's hyperparameters (Adam-mini's BlockSize) and groups' precisions.
                shapedBlockwise = precisions.Same ? CreateBlockwise(StoredPrecisions(), HasCompactState ? ExtentsFor(values!) : null) : null;
                if (shapedBlockwise is not null && shapedBlockwise.Bytes != stateBytes)
                {
                    same = false;
                    sameShape = false;
                    shapedBlockwise = null;
                }
            }
            else if (same)
            {
                shaped = NewState(values!, elementSize);
                if (shaped.StoredLength(Layout) * elementSize != stateBytes)
                {
                    // Same tensor lengths, other matrix shapes (or blocks): the state cannot be placed.
                    same = false;
                    sameShape = false;
                    shaped = null;
                }
            }
        }
        else
        {
            stateBytes = reader.Require("state", stateCount, planeBytes);
        }

        // The same precision per group as this optimizer's state: the file's state has this state's representation.
        bool samePrecision = precisions.Same;
        StateStorage? staged = null;
        BlockwiseState? stagedBlockwise = null;
        if (same && samePrecision && sameSigns && _blockwise is not null)
        {
            stagedBlockwise = shapedBlockwise ?? CreateBlockwise(StoredPrecisions());
            VisitStateBytes(new StateView(_state, stagedBlockwise, Layout), reader.Read);
        }
        else if (same && samePrecision && sameSigns)
        {
            staged = shaped ?? NewState(values!, elementSize);
            InitializeState(staged);
            VisitStateBytes(new StateView(staged, null, Layout), reader.Read);
        }
        else
        {
            reader.Skip(stateBytes);
        }

        if (reader.Position != reader.End)
        {
            throw new CheckpointException(CheckpointError.Corrupted, "size", $"The checkpoint declares {size} bytes but its fields end at byte {reader.Position + 4}.");
        }

        reader.VerifyChecksum();

        // The file is intact: judge what it holds.
        if (!sameRule)
        {
            string hint = name != Descriptor.Name && ruleId == Descriptor.RuleId
                ? " The update rules are the same, but a checkpoint also names its rule: give both classes the same [Optimizer(Name = ...)] to share checkpoints."
                : string.Empty;
            throw new CheckpointException(CheckpointError.WrongRule, "rule", $"The checkpoint was saved by rule '{name}' ({ruleId}); this optimizer is '{Descriptor.Name}' ({Descriptor.RuleId}).{hint}");
        }

        if (!sameShape)
        {
            throw new CheckpointException(CheckpointError.WrongShape, "layout", $"The checkpoint holds {groupCount} group(s) of tensor lengths [{shape}]{(HasCompactState ? $" and {stateBytes} bytes of compact state" : string.Empty)}, which is not this optimizer's layout{(HasCompactState ? " (tensor lengths, matrix shapes or blocks)" : string.Empty)}.");
        }

        if (otherDimensions is not null)
        {
            throw new CheckpointException(CheckpointError.WrongShape, "tensor shape", $"{otherDimensions} '{Descriptor.Name}''s state is shaped by its tensors' shapes (rows, columns or blocks), so it cannot be placed here.");
        }

        if (hasShapes && !StoresShapes)
        {
            throw new CheckpointException(CheckpointError.Corrupted, "flags", $"The checkpoint stores tensor shapes (flag bit 10), which '{Descriptor.Name}' never writes: its state does not depend on them.");
        }

        if (!samePrecision)
        {
            throw precisions.Mismatch();
        }

        if (!sameSigns)
        {
            throw new CheckpointException(CheckpointError.WrongShape, "signedness", "The checkpoint's blockwise state uses the signed and unsigned code maps for other state buffers than this optimizer ([NonNegativeState] differs); its codes cannot be read here.");
        }

        if (stepCount is < 0 or > MaxCheckpointStepCount)
        {
            throw new CheckpointException(CheckpointError.Corrupted, "stepCount", $"The checkpoint's step count, {stepCount}, is not in [0, 2^53 - 1].");
        }

        if (batchSize is < 2 or > int.MaxValue && (flags & BatchSizeFlag) != 0)
        {
            throw new CheckpointException(CheckpointError.Corrupted, "batchSize", $"The checkpoint's batch size, {batchSize}, is not in [2, {int.MaxValue}] (a batch size of 1 is stored by leaving it out).");
        }

        for (int k = 0; k < values!.Length; k++)
        {
            for (int i = 0; i < values[k].Length; i++)
            {
                HyperparameterDescriptor h = Descriptor.Hyperparameters[i];
                if (!h.Accepts(values[k][i]))
                {
                    throw new CheckpointException(CheckpointError.Corrupted, h.Name, $"The checkpoint's {h.Name} of group {k}, {values[k][i]:R}, is out of range: {h.Label} must be {h.RangeText}.");
                }

                if (RuleLimitProblem(i, values[k][i]) is { } problem)
                {
                    throw new CheckpointException(CheckpointError.Corrupted, h.Name, $"The checkpoint's {h.Name} of group {k}, {values[k][i]:R}, is out of range: {problem}");
                }
            }
        }

        if (hostValues is null)
        {
            throw new CheckpointException(CheckpointError.Corrupted, "host scalar count", $"The checkpoint holds {hostCount} carried host scalars; the rule has {Descriptor.HostStates.Count}.");
        }

        for (int k = 0; k < hostValues.Length; k++)
        {
            for (int i = 0; i < hostValues[k].Length; i++)
            {
                // Carried scalars are products and sums of per-step values: finite whenever the run was.
                if (!double.IsFinite(hostValues[k][i]))
                {
                    HostStateDescriptor h = Descriptor.HostStates[i];
                    throw new CheckpointException(CheckpointError.Corrupted, h.Name, $"The checkpoint's carried scalar {h.Name} ({h.Symbol}) of group {k}, {hostValues[k][i]:R}, is not finite.");
                }
            }
        }

        if (stagedBlockwise is not null)
        {
            ThrowIfNegativeAbsmax(stagedBlockwise);
        }

        // Everything is checked: commit (nothing below can throw).
        for (int k = 0; k < values.Length; k++)
        {
            values[k].CopyTo(_groupHyperparameters[k], 0);
            hostValues[k].CopyTo(_groupHostState[k], 0);
        }

        if (stagedBlockwise is not null)
        {
            _blockwise = stagedBlockwise;
        }
        else
        {
            _state = staged!;
        }

        StepCount = stepCount;
        _batchSize = (int)batchSize;
        RestoreEvalMode((flags & EvalModeFlag) != 0);
    }

    /// <summary>
    /// Reads the shapes section (<see cref="ShapesFlag"/>) of <paramref name="tensors"/> tensors. When the file's
    /// lengths are this layout's (<paramref name="sameLengths"/>), each shape must hold its tensor's length (else the
    /// file is corrupted) and is compared with this layout's: the first that differs is described (null: all the same).
    /// Nothing of the file's size is kept but the first differing shape's text.
    /// </summary>
    private string? ReadShapes(HashingReader reader, long tensors, bool sameLengths)
    {
        string? mismatch = null;
        var text = new StringBuilder();
        for (long t = 0; t < tensors; t++)
        {
            int rank = reader.ReadCount("tensor rank", int.MaxValue, 4);
            if (rank == 0)
            {
                throw new CheckpointException(CheckpointError.Corrupted, "tensor rank", $"The checkpoint's tensor {t} has a shape of no dimensions.");
            }

            int[]? mine = sameLengths ? Layout.ShapeOf((int)t) : null;
            bool equal = mine is not null && mine.Length == rank;
            long product = 1;
            text.Clear();
            for (int d = 0; d < rank; d++)
            {
                uint dimension = reader.ReadUInt32();
                if (dimension > int.MaxValue)
                {
                    throw new CheckpointException(CheckpointError.Corrupted, "tensor shape", $"The checkpoint's tensor {t} has dimension {dimension}, more than any tensor has.");
                }

                equal = equal && mine![d] == (int)dimension;
                product = Math.Min(product * dimension, 1L << 31); // ≤ 2³¹ · (2³¹ − 1): no overflow; 0 stays 0
                if (d < 16)
                {
                    text.Append(d == 0 ? string.Empty : ", ").Append(dimension);
                }
                else if (d == 16)
                {
                    text.Append(", …");
                }
            }

            if (mine is null)
            {
                continue;
            }

            if (product != Layout.LengthOf((int)t))
            {
                throw new CheckpointException(CheckpointError.Corrupted, "tensor shape", $"The checkpoint's tensor {t} has shape [{text}], which does not hold its length {Layout.LengthOf((int)t)}.");
            }

            if (!equal && mismatch is null)
            {
                int group = Layout.GroupOf((int)t);
                mismatch = $"The checkpoint's tensor {t} (group {group}, index {t - Layout.FirstTensorOf(group)}) has shape [{text}]; this optimizer's has [{string.Join(", ", mine)}]:";
            }
        }

        return mismatch;
    }

    /// <summary>The file's tensor lengths for a <see cref="CheckpointError.WrongShape"/> message, at most 64 of them.</summary>
    private sealed class LayoutText
    {
        private const int MaxLengths = 64;
        private readonly StringBuilder _text = new();
        private int _count;
        private int _groups;
        private bool _firstInGroup;

        public void StartGroup()
        {
            if (_groups++ > 0 && _count < MaxLengths)
            {
                _text.Append("; ");
            }

            _firstInGroup = true;
        }

        public void Add(int length)
        {
            if (_count < MaxLengths)
            {
                _text.Append(_firstInGroup ? string.Empty : ", ").Append(length);
            }
            else if (_count == MaxLengths)
            {
                _text.Append(", …");
            }

            _count++;
            _firstInGroup = false;
        }

        public override string ToString() => _text.ToString();
    }

    /// <summary>State is written and read in pieces of this many elements, so no byte span exceeds 2 GiB.</summary>
    private const int ChunkElements = 1 << 24;

    /// <summary>The exact size of this optimizer's checkpoint, in bytes.</summary>
    private long CheckpointSize()
    {
        long size = 8 + 4 + 4 + 8; // magic, version, flags, size
        size += StringSize(Descriptor.Name) + StringSize(Descriptor.RuleId) + 8 + (_batchSize != 1 ? 4 : 0);
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

        StatePrecision[] precisions = StoredPrecisions();
        bool perGroup = !IsUniform(precisions);
        size += 4 + (4L * Layout.GroupCount) + (4L * Layout.TensorCount) + (perGroup ? Layout.GroupCount : 0);
        size += 8L * Layout.GroupCount * Descriptor.Hyperparameters.Count;
        size += 4 + (8L * Layout.GroupCount * Descriptor.HostStates.Count);
        size += HasSignedness(precisions) ? Descriptor.States.Count : 0;
        for (int j = 0; StoresShapes && j < Layout.TensorCount; j++)
        {
            size += 4 + (4L * Layout.RankOf(j));
        }
        if (_blockwise is null)
        {
            size += _state.StoredLength(Layout) * _state.ElementSize;
        }
        else
        {
            size += _blockwise.Bytes;
        }

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

    /// <summary>
    /// Reads little-endian fields, keeps a CRC-32 of every byte read, turns a short read into
    /// <see cref="CheckpointError.Truncated"/>, and refuses any field that would reach past <see cref="End"/>.
    /// </summary>
    private sealed class HashingReader(Stream stream)
    {
        private readonly Crc32 _crc = new();

        /// <summary>The number of bytes read so far.</summary>
        public long Position { get; private set; }

        /// <summary>Where the fields end (the checksum follows); no read may pass it.</summary>
        public long End { get; set; } = long.MaxValue;

        public void Read(Span<byte> bytes)
        {
            if (bytes.Length > End - Position)
            {
                throw new CheckpointException(CheckpointError.Corrupted, "size", $"The checkpoint's fields run past its declared end at byte {End + 4}.");
            }

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

        /// <summary>
        /// A count of at most <paramref name="maximum"/>, each item of which takes at least <paramref name="bytesEach"/>
        /// bytes of what is left, so that a loop over the items cannot outlast the data.
        /// </summary>
        public int ReadCount(string field, int maximum, int bytesEach)
        {
            uint value = ReadUInt32();
            if (value > (uint)maximum || (bytesEach > 0 && value > (End - Position) / bytesEach))
            {
                throw new CheckpointException(CheckpointError.Corrupted, field, $"The checkpoint's {field}, {value}, is impossible: at most {maximum}, and {End - Position} bytes are left.");
            }

            return (int)value;
        }

        /// <summary><paramref name="count"/> · <paramref name="bytesEach"/>, which must fit in what is left.</summary>
        public long Require(string field, long count, long bytesEach)
        {
            long left = End - Position;
            if (bytesEach != 0 && count > left / bytesEach)
            {
                throw new CheckpointException(CheckpointError.Corrupted, field, $"The checkpoint's {field} ({count} × {bytesEach} bytes) run past its declared end ({left} bytes are left).");
            }

            return count * bytesEach;
        }

        /// <summary>
        /// <paramref name="groups"/> × <paramref name="count"/> doubles, which must fit in what is left: returned per
        /// group when <paramref name="stage"/>, else only read past (null).
        /// </summary>
        public double[][]? ReadValues(string field, int groups, int count, bool stage)
        {
            long bytes = Require(field, groups, (long)count * sizeof(double));
            if (!stage)
            {
                Skip(bytes);
                return null;
            }

            var values = new double[groups][];
            for (int k = 0; k < groups; k++)
            {
                values[k] = new double[count];
                for (int i = 0; i < count; i++)
                {
                    values[k][i] = BitConverter.Int64BitsToDouble(ReadInt64());
                }
            }

            return values;
        }

        /// <summary>
        /// Reads a count of names (at most <see cref="MaxNames"/>; fields "<paramref name="what"/> count" and
        /// "<paramref name="what"/> name") and the names; whether they are <paramref name="expected"/>'s, in order.
        /// </summary>
        public bool ReadNames<T>(string what, IReadOnlyList<T> expected, Func<T, string> nameOf, out int count)
        {
            count = ReadCount(what + " count", MaxNames, 4);
            bool same = count == expected.Count;
            string field = what + " name";
            for (int i = 0; i < count; i++)
            {
                string name = ReadString(field);
                same &= i < expected.Count && name == nameOf(expected[i]);
            }

            return same;
        }

        public string ReadString(string field)
        {
            int length = ReadCount(field, MaxNameBytes, 1);
            byte[] bytes = new byte[length];
            Read(bytes);
            return Encoding.UTF8.GetString(bytes);
        }

        public void Skip(long bytes)
        {
            Span<byte> buffer = stackalloc byte[4096];
            while (bytes > 0)
            {
                int chunk = (int)Math.Min(bytes, buffer.Length);
                Read(buffer[..chunk]);
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
                throw new CheckpointException(CheckpointError.Corrupted, "checksum", $"The checkpoint's CRC-32 is 0x{stored:X8} but its contents hash to 0x{computed:X8}: the file is corrupted.");
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
                throw new CheckpointException(CheckpointError.Truncated, "size", "The checkpoint ends early: it is truncated.");
            }

            Position += bytes.Length;
        }
    }
}
