using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;

namespace OptGen.Distributed;

/// <summary>Sharded checkpoints: one ordinary checkpoint per shard plus a manifest; loading with another R reshards.</summary>
public sealed partial class ShardedOptimizer<TOptimizer>
{
    /// <summary>The manifest's file name in a sharded checkpoint directory.</summary>
    public const string ManifestName = "manifest.txt";

    /// <summary>A rank's vote in <see cref="LoadCheckpoint"/> when its <see cref="Local"/> is busy with another call.</summary>
    private const int BusyVote = -1;

    /// <summary>The manifest's first line without its version number.</summary>
    private const string ManifestMagic = "optgen-sharded-checkpoint ";

    /// <summary>The manifest version written: 2 adds the state precision and a checksum line to version 1 (float32 state).</summary>
    private const int ManifestVersion = 2;

    /// <summary>
    /// Writes a sharded checkpoint into <paramref name="directory"/> (a collective): each rank writes its shard as an
    /// ordinary checkpoint, <c>shard-r-of-R.ckpt</c> (atomic, checksummed, see the runtime's format), then rank 0
    /// writes the manifest (atomically: a temporary file renamed) with the rule, R, the state precision, the layout,
    /// the cuts, each shard's size and a checksum of those lines. A directory that holds a complete manifest holds a
    /// complete checkpoint.
    /// </summary>
    public void SaveCheckpoint(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        using BusyScope busy = Enter(nameof(SaveCheckpoint));
        Directory.CreateDirectory(directory);
        int ranks = _communicator.Size;
        string file = Path.Combine(directory, ShardFile(_communicator.Rank, ranks));
        Local.SaveCheckpoint(file);
        Span<long> sizes = stackalloc long[ranks];
        _communicator.AllGather<long>([new FileInfo(file).Length], sizes);
        if (_communicator.Rank == 0)
        {
            string body = string.Concat(new[]
            {
                $"{ManifestMagic}{ManifestVersion}",
                $"rule={Local.Descriptor.Name}",
                $"ranks={ranks}",
                $"state={Local.StatePrecision}",
                $"layout={LayoutText(Layout)}",
                $"cuts={string.Join(",", _cuts)}",
                $"sizes={string.Join(",", sizes.ToArray())}",
            }.Select(line => line + "\n"));
            string manifest = Path.Combine(directory, ManifestName);
            string temporary = $"{manifest}.{Guid.NewGuid():N}.tmp";
            File.WriteAllText(temporary, $"{body}checksum={Checksum(body)}\n");
            File.Move(temporary, manifest, overwrite: true);
        }

        _communicator.Barrier();
    }

    /// <summary>
    /// Loads a sharded checkpoint written with any number of ranks (a collective). Each rank reads the shards that
    /// overlap its own into temporary optimizers (checked by the runtime's loader), then all ranks agree: if any rank
    /// failed, every rank throws and nothing changed; otherwise each rank copies its elements' state, the step count,
    /// the hyperparameters and the carried scalars into <see cref="Local"/>. The state precision must be the
    /// checkpoint's (set it with <c>Local.ChangeStatePrecision</c> before loading), as for one process.
    /// <see cref="Local"/>'s guard is held from before the shards are read until every shard is committed, so no other
    /// call on <see cref="Local"/> (a step, <c>ChangeStatePrecision</c>, a hyperparameter setter) can run in between
    /// and see or make a half-loaded optimizer.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// On every rank, when <see cref="Local"/> was busy with another call on any rank; nothing was changed on any rank.
    /// </exception>
    /// <exception cref="CheckpointException">
    /// On every rank, when any rank could not read the manifest or a shard; nothing was changed. Its
    /// <see cref="CheckpointException.Error"/> is the lowest failing rank's reason (a missing shard file is
    /// <see cref="CheckpointError.Truncated"/>: the checkpoint is incomplete) and its message names the failing ranks
    /// and, on those, what failed.
    /// </exception>
    public void LoadCheckpoint(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        using BusyScope busy = Enter(nameof(LoadCheckpoint));

        // Local's guard from before the shards are read (they are checked against its precision) to the end of the
        // commit; a rank whose Local is busy votes so, and every rank refuses together.
        Optimizer.StepGuard guard = default;
        InvalidOperationException? localBusy = null;
        try
        {
            guard = Local.EnterGuard("ShardedOptimizer.LoadCheckpoint");
        }
        catch (InvalidOperationException e)
        {
            localBusy = e;
        }

        try
        {
            LoadCheckpointGuarded(directory, localBusy);
        }
        finally
        {
            guard.Dispose();
        }
    }

    /// <summary><see cref="LoadCheckpoint"/> with <see cref="Local"/>'s guard held, unless <paramref name="localBusy"/>.</summary>
    private void LoadCheckpointGuarded(string directory, InvalidOperationException? localBusy)
    {
        List<(TOptimizer Source, int Start, int Length)> sources = [];
        CheckpointException? error = null;
        try
        {
            if (localBusy is null)
            {
                sources = ReadOverlappingShards(directory);
            }
        }
        catch (CheckpointException e)
        {
            error = e;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = new CheckpointException(CheckpointError.Truncated, e.Message);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException or KeyNotFoundException or OverflowException)
        {
            error = new CheckpointException(CheckpointError.Corrupted, e.Message);
        }

        Span<int> status = stackalloc int[_communicator.Size];
        _communicator.AllGather<int>([localBusy is not null ? BusyVote : error is null ? 0 : 1 + (int)error.Error], status);
        var failed = new List<int>();
        var busyRanks = new List<int>();
        for (int r = 0; r < status.Length; r++)
        {
            if (status[r] == BusyVote)
            {
                busyRanks.Add(r);
            }
            else if (status[r] != 0)
            {
                failed.Add(r);
            }
        }

        if (busyRanks.Count > 0)
        {
            throw new InvalidOperationException(
                $"Loading the sharded checkpoint in '{directory}' was refused: Local was busy with another call on rank(s) {string.Join(", ", busyRanks)}; nothing was changed on any rank." +
                (localBusy is null ? string.Empty : $" This rank: {localBusy.Message}"), localBusy);
        }

        if (failed.Count > 0)
        {
            throw new CheckpointException((CheckpointError)(status[failed[0]] - 1),
                $"Loading the sharded checkpoint in '{directory}' failed on rank(s) {string.Join(", ", failed)}; nothing was changed on any rank." +
                (error is null ? string.Empty : $" This rank: {error.Message}"));
        }

        // Everything is read and checked on every rank: commit every source under Local's one guard.
        foreach ((TOptimizer source, int start, int length) in sources)
        {
            Local.CopyScalarsFrom(source);
            CopyOverlap(source, start, length);
        }
    }

    private List<(TOptimizer Source, int Start, int Length)> ReadOverlappingShards(string directory)
    {
        Dictionary<string, string> manifest = ReadManifest(directory);
        if (manifest["layout"] != LayoutText(Layout))
        {
            throw new CheckpointException(CheckpointError.WrongShape, $"The checkpoint's layout ({manifest["layout"]}) is not this model's ({LayoutText(Layout)}).");
        }

        if (manifest["rule"] != Local.Descriptor.Name)
        {
            throw new CheckpointException(CheckpointError.WrongRule, $"The checkpoint is of rule {manifest["rule"]}, not {Local.Descriptor.Name}.");
        }

        if (manifest["state"] != Local.StatePrecision.ToString())
        {
            throw new CheckpointException(CheckpointError.WrongShape,
                $"The checkpoint stores the state as {manifest["state"]}; this optimizer's state is {Local.StatePrecision}. Call Local.ChangeStatePrecision first, on every rank.");
        }

        if (Local.HasGroupStatePrecision)
        {
            throw new CheckpointException(CheckpointError.WrongShape, "Resharding supports state of one precision for every group, but a parameter group of Local has its own StatePrecision.");
        }

        int ranks = int.Parse(manifest["ranks"], CultureInfo.InvariantCulture);
        int[] cuts = manifest["cuts"].Split(',').Select(c => int.Parse(c, CultureInfo.InvariantCulture)).ToArray();
        long[] sizes = manifest["sizes"].Split(',').Select(c => long.Parse(c, CultureInfo.InvariantCulture)).ToArray();
        if (ranks < 1 || cuts.Length != ranks + 1 || sizes.Length != ranks || cuts[0] != 0 || cuts[^1] != Layout.TotalLength ||
            cuts.Zip(cuts.Skip(1)).Any(c => c.First > c.Second))
        {
            throw new CheckpointException(CheckpointError.Corrupted, "The manifest's ranks, cuts and sizes do not agree.");
        }

        if (Local.StatePrecision is StatePrecision.Int8Blockwise or StatePrecision.Int4Blockwise && !cuts.All(c => Engine.ShardLayout.IsOnGranule(Layout, c)))
        {
            // Codes and absmax move between shards in whole blocks: every cut must start one, as this build cuts.
            throw new CheckpointException(CheckpointError.Corrupted, $"The manifest's cuts are not on {Engine.ShardLayout.CutGranule}-element boundaries of their tensors; 8-bit and 4-bit state moves in whole blocks.");
        }

        var sources = new List<(TOptimizer, int, int)>();
        int start = ShardStart, end = ShardStart + ShardLength;
        for (int s = 0; s < ranks; s++)
        {
            bool overlaps = cuts[s] < end && cuts[s + 1] > start;
            if (!overlaps && !(s == 0 && ShardLength == 0))
            {
                continue; // an empty shard still takes the scalars (from shard 0)
            }

            string file = Path.Combine(directory, ShardFile(s, ranks));
            if (!File.Exists(file))
            {
                throw new CheckpointException(CheckpointError.Truncated, $"{ShardFile(s, ranks)} is missing; the checkpoint is incomplete.");
            }

            if (new FileInfo(file).Length != sizes[s])
            {
                throw new CheckpointException(CheckpointError.Corrupted, $"{ShardFile(s, ranks)} has {new FileInfo(file).Length} bytes; the manifest says {sizes[s]}.");
            }

            TOptimizer source = _create(Engine.ShardLayout.Restrict(Layout, cuts[s], cuts[s + 1] - cuts[s]));
            source.PlaceAsShardOf(Layout, cuts[s]);
            source.ChangeStatePrecision(Local.StatePrecision);

            source.LoadCheckpoint(file);
            sources.Add((source, cuts[s], cuts[s + 1] - cuts[s]));
        }

        return sources;
    }

    /// <summary>The manifest's fields (version 1: state Float32), its magic, version and checksum checked.</summary>
    private static Dictionary<string, string> ReadManifest(string directory)
    {
        string path = Path.Combine(directory, ManifestName);
        if (!File.Exists(path))
        {
            throw new CheckpointException(CheckpointError.NotACheckpoint, $"'{directory}' holds no {ManifestName}: not a complete sharded checkpoint.");
        }

        string text = File.ReadAllText(path);
        string[] lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length == 0 || !lines[0].StartsWith(ManifestMagic, StringComparison.Ordinal))
        {
            throw new CheckpointException(CheckpointError.NotACheckpoint, $"'{ManifestName}' is not an OptGen sharded checkpoint manifest.");
        }

        string version = lines[0][ManifestMagic.Length..];
        if (version is not ("1" or "2"))
        {
            throw new CheckpointException(CheckpointError.UnsupportedVersion, $"'{ManifestName}' is of version {version}; this build reads versions 1 and 2.");
        }

        if (version == "2")
        {
            int last = text.LastIndexOf("checksum=", StringComparison.Ordinal);
            if (last < 0 || text[last..].TrimEnd('\n') != $"checksum={Checksum(text[..last])}")
            {
                throw new CheckpointException(CheckpointError.Corrupted, $"'{ManifestName}' fails its checksum.");
            }
        }

        var fields = new Dictionary<string, string>(StringComparer.Ordinal) { ["state"] = nameof(StatePrecision.Float32) };
        foreach (string line in lines.Skip(1))
        {
            string[] kv = line.Split('=', 2);
            if (kv.Length == 2)
            {
                fields[kv[0]] = kv[1];
            }
        }

        foreach (string key in new[] { "rule", "ranks", "layout", "cuts", "sizes" })
        {
            if (!fields.ContainsKey(key))
            {
                throw new CheckpointException(CheckpointError.Corrupted, $"'{ManifestName}' has no '{key}' line.");
            }
        }

        return fields;
    }

    /// <summary>The manifest's checksum of <paramref name="text"/>: FNV-1a (64 bits), 16 hex digits.</summary>
    private static string Checksum(string text) => Fnv1a(text).ToString("x16", CultureInfo.InvariantCulture);

    /// <summary>Copies the state of the elements <paramref name="source"/> (old shard [start, start + length)) shares with this shard.</summary>
    private void CopyOverlap(TOptimizer source, int start, int length)
    {
        for (int j = 0; j < Layout.TensorCount; j++)
        {
            int tensorStart = Layout.ArenaOffsetOf(j), tensorEnd = tensorStart + Layout.LengthOf(j);
            int lo = Math.Max(Math.Max(start, ShardStart), tensorStart);
            int hi = Math.Min(Math.Min(start + length, ShardStart + ShardLength), tensorEnd);
            if (hi > lo)
            {
                Local.CopyStateFrom(source, j, lo - Math.Max(start, tensorStart), lo - Math.Max(ShardStart, tensorStart), hi - lo);
            }
        }
    }

    private static string ShardFile(int rank, int ranks) => $"shard-{rank}-of-{ranks}.ckpt";

    private static string LayoutText(ParameterLayout layout) =>
        string.Join(";", Enumerable.Range(0, layout.GroupCount).Select(k =>
            string.Join(",", Enumerable.Range(layout.FirstTensorOf(k), layout.TensorCountOf(k)).Select(j => layout.LengthOf(j).ToString(CultureInfo.InvariantCulture)))));
}
