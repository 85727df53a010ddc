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

    private const string ManifestMagic = "optgen-sharded-checkpoint 1";

    /// <summary>
    /// Writes a sharded checkpoint into <paramref name="directory"/> (a collective): each rank writes its shard as an
    /// ordinary checkpoint, <c>shard-r-of-R.ckpt</c> (atomic, checksummed, see the runtime's format), then rank 0
    /// writes the manifest (atomically: a temporary file renamed) with the layout, R, the cuts and each shard's size.
    /// A directory that holds a complete manifest holds a complete checkpoint.
    /// </summary>
    public void SaveCheckpoint(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory.CreateDirectory(directory);
        int ranks = _communicator.Size;
        string file = Path.Combine(directory, ShardFile(_communicator.Rank, ranks));
        Local.SaveCheckpoint(file);
        Span<long> sizes = stackalloc long[ranks];
        _communicator.AllGather<long>([new FileInfo(file).Length], sizes);
        if (_communicator.Rank == 0)
        {
            var lines = new List<string>
            {
                ManifestMagic,
                $"rule={Local.Descriptor.Name}",
                $"ranks={ranks}",
                $"layout={LayoutText(Layout)}",
                $"cuts={string.Join(",", _cuts)}",
                $"sizes={string.Join(",", sizes.ToArray())}",
            };
            string manifest = Path.Combine(directory, ManifestName);
            string temporary = $"{manifest}.{Guid.NewGuid():N}.tmp";
            File.WriteAllLines(temporary, lines);
            File.Move(temporary, manifest, overwrite: true);
        }

        _communicator.Barrier();
    }

    /// <summary>
    /// Loads a sharded checkpoint written with any number of ranks (a collective). Each rank reads the shards that
    /// overlap its own into temporary optimizers (checked by the runtime's loader), then all ranks agree: if any rank
    /// failed, every rank throws and nothing changed; otherwise each rank copies its elements' state, the step count,
    /// the hyperparameters and the carried scalars into <see cref="Local"/>.
    /// </summary>
    /// <exception cref="CheckpointException">On every rank, when any rank could not read the manifest or a shard; nothing was changed.</exception>
    public void LoadCheckpoint(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        List<(TOptimizer Source, int Start, int Length)> sources = [];
        string? error = null;
        try
        {
            sources = ReadOverlappingShards(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or ArgumentException or InvalidOperationException or KeyNotFoundException or OverflowException)
        {
            error = e.Message;
        }

        Span<int> failed = stackalloc int[_communicator.Size];
        _communicator.AllGather<int>([error is null ? 0 : 1], failed);
        if (error is not null || failed.Contains(1))
        {
            var ranks = new List<int>();
            for (int r = 0; r < failed.Length; r++)
            {
                if (failed[r] != 0)
                {
                    ranks.Add(r);
                }
            }

            throw new CheckpointException(CheckpointError.Corrupted,
                $"Loading the sharded checkpoint in '{directory}' failed on rank(s) {string.Join(", ", ranks)}; nothing was changed on any rank." +
                (error is null ? string.Empty : $" This rank: {error}"));
        }

        // Everything is read and checked on every rank: commit.
        foreach ((TOptimizer source, int start, int length) in sources)
        {
            Local.CopyScalarsFrom(source);
            CopyOverlap(source, start, length);
        }
    }

    private List<(TOptimizer Source, int Start, int Length)> ReadOverlappingShards(string directory)
    {
        string[] lines = File.ReadAllLines(Path.Combine(directory, ManifestName));
        Dictionary<string, string> manifest = lines.Skip(1).Select(l => l.Split('=', 2)).Where(kv => kv.Length == 2).ToDictionary(kv => kv[0], kv => kv[1]);
        if (lines.Length == 0 || lines[0] != ManifestMagic)
        {
            throw new FormatException($"'{ManifestName}' is not a version-1 OptGen sharded checkpoint manifest.");
        }

        if (!manifest.TryGetValue("layout", out string? layout) || layout != LayoutText(Layout))
        {
            throw new FormatException($"The checkpoint's layout ({layout}) is not this model's ({LayoutText(Layout)}).");
        }

        if (manifest.GetValueOrDefault("rule") != Local.Descriptor.Name)
        {
            throw new FormatException($"The checkpoint is of rule {manifest.GetValueOrDefault("rule")}, not {Local.Descriptor.Name}.");
        }

        int ranks = int.Parse(manifest["ranks"], CultureInfo.InvariantCulture);
        int[] cuts = manifest["cuts"].Split(',').Select(c => int.Parse(c, CultureInfo.InvariantCulture)).ToArray();
        long[] sizes = manifest["sizes"].Split(',').Select(c => long.Parse(c, CultureInfo.InvariantCulture)).ToArray();
        if (ranks < 1 || cuts.Length != ranks + 1 || sizes.Length != ranks || cuts[0] != 0 || cuts[^1] != Layout.TotalLength)
        {
            throw new FormatException("The manifest's ranks, cuts and sizes do not agree.");
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
            if (new FileInfo(file).Length != sizes[s])
            {
                throw new FormatException($"{ShardFile(s, ranks)} has {new FileInfo(file).Length} bytes; the manifest says {sizes[s]}.");
            }

            TOptimizer source = _create(Engine.ShardLayout.Restrict(Layout, cuts[s], cuts[s + 1] - cuts[s]));
            source.LoadCheckpoint(file);
            if (source.StatePrecision != StatePrecision.Float32 || Local.StatePrecision != StatePrecision.Float32)
            {
                throw new InvalidOperationException("Resharding supports float32 state only.");
            }

            sources.Add((source, cuts[s], cuts[s + 1] - cuts[s]));
        }

        return sources;
    }

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
