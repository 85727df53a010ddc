using System;
using System.Text;
using OptGen.Kernels;

namespace OptGen.Gpu;

/// <content>
/// State precision per parameter group on the device: the host's per-tensor state (<see cref="BlockwiseState"/>)
/// mirrored, each tensor in its group's codec; which layouts the device can run; converting a group while this object
/// drives the host optimizer.
/// </content>
public sealed partial class GpuOptimizer
{
    /// <summary>Each group's precision when the device state was last uploaded (the host's then).</summary>
    private StatePrecision[] _deviceGroupPrecisions = [];

    /// <summary>The host's per-tensor state when the device state was last uploaded (null when it had none): a conversion or load replaces it.</summary>
    private BlockwiseState? _hostBlockwise;

    /// <summary>How group <paramref name="group"/>'s state is stored: the host optimizer's <see cref="Optimizer.StatePrecisionOf"/>.</summary>
    /// <param name="group">A group of <see cref="Layout"/>.</param>
    /// <returns>The group's own precision (<see cref="ParameterGroup.StatePrecision"/>), or the optimizer's.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="group"/> is not a group of <see cref="Layout"/>.</exception>
    public StatePrecision StatePrecisionOf(int group) => Optimizer.StatePrecisionOf(group);

    /// <summary>
    /// Gives parameter group <paramref name="group"/> its own state precision, or with null makes it follow the
    /// optimizer's again, as setting <see cref="ParameterGroup.StatePrecision"/> on the host optimizer does: the device
    /// state is copied to the host, the host converts the group (every other group's state bit for bit), and the new
    /// state is copied to the device. Set it through this method while this object drives the host optimizer (a
    /// group converted on the host directly makes <c>Step</c> refuse until <see cref="ReloadFromHost"/>).
    /// </summary>
    /// <param name="group">A group of <see cref="Layout"/>.</param>
    /// <param name="precision">The group's precision, or null for the optimizer's.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="group"/> is not a group of <see cref="Layout"/>, or <paramref name="precision"/> is not a defined value; nothing was changed.</exception>
    /// <exception cref="NotSupportedException">The device or the host optimizer cannot store the state so (a rule with reductions: one float32 or bfloat16 precision for every group on the GPU); nothing was changed.</exception>
    /// <exception cref="InvalidOperationException">The host optimizer was changed behind this object, or another thread uses it; nothing was changed.</exception>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public void SetGroupStatePrecision(int group, StatePrecision? precision)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(group);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(group, Layout.GroupCount);
        if (precision is { } defined)
        {
            OptGen.Optimizer.ThrowIfUndefined(defined, nameof(precision));
        }

        // The device guard and the optimizer's guard over the copy to the host, the conversion and the upload (see
        // ChangeStatePrecision).
        using DeviceGuard device = EnterDevice("GpuOptimizer.SetGroupStatePrecision");
        using Optimizer.StepGuard guard = Optimizer.EnterGuard("GpuOptimizer.SetGroupStatePrecision");
        if (Optimizer.OwnStatePrecisionOf(group) == precision)
        {
            return;
        }

        var groups = new StatePrecision[Layout.GroupCount];
        for (int g = 0; g < groups.Length; g++)
        {
            groups[g] = g == group ? precision ?? Optimizer.StatePrecision : Optimizer.StatePrecisionOf(g);
        }

        ThrowIfDeviceCannotStore(Optimizer, _update, groups, nameof(precision));
        SynchronizeHostStateGuarded();
        Optimizer.ChangeGroupStatePrecisionGuarded(group, precision);
        UploadState();
    }

    /// <summary>Each group's precision after the optimizer's becomes <paramref name="precision"/> (groups of their own keep theirs).</summary>
    private StatePrecision[] PrecisionsWith(StatePrecision precision)
    {
        var groups = new StatePrecision[Layout.GroupCount];
        for (int g = 0; g < groups.Length; g++)
        {
            groups[g] = Optimizer.Groups[g].StatePrecision ?? precision;
        }

        return groups;
    }

    /// <summary>Each group's precision as the host optimizer stores it now.</summary>
    private static StatePrecision[] StoredPrecisions(Optimizer optimizer)
    {
        var groups = new StatePrecision[optimizer.Layout.GroupCount];
        for (int g = 0; g < groups.Length; g++)
        {
            groups[g] = optimizer.StatePrecisionOf(g);
        }

        return groups;
    }

    /// <summary>
    /// Refuses, before anything changes, per-group precisions <paramref name="groups"/> whose state the device cannot
    /// run: state per tensor (8-bit or 4-bit blockwise in some group, or groups of different precisions) for a rule
    /// with reductions (its GPU passes take one float32 or bfloat16 precision for every group), for a rule of more
    /// state buffers than the blockwise kernel stages in shared memory (<see cref="BlockwiseDriver.MaxPlanes"/>), or
    /// for a rule generated without a blockwise GPU kernel (<paramref name="update"/>; null before it is loaded).
    /// </summary>
    /// <exception cref="NotSupportedException">As above; nothing was changed.</exception>
    private static void ThrowIfDeviceCannotStore(Optimizer optimizer, GpuUpdate? update, StatePrecision[] groups, string parameter)
    {
        if (optimizer.Descriptor.States.Count == 0)
        {
            return;
        }

        bool perTensor = false;
        foreach (StatePrecision precision in groups)
        {
            perTensor |= precision is StatePrecision.Int8Blockwise or StatePrecision.Int4Blockwise || precision != groups[0];
        }

        if (!perTensor)
        {
            return;
        }

        if (optimizer is MultiPassOptimizer)
        {
            throw new NotSupportedException(
                $"'{optimizer.Descriptor.Name}' updates in passes with reductions; on the GPU its state has one float32 or bfloat16 precision for every group, not {Describe(groups)} ({parameter}). " +
                "Run it on the CPU, or give every group float32 or bfloat16 state. Nothing was changed.");
        }

        if (optimizer.Descriptor.States.Count > BlockwiseDriver.MaxPlanes)
        {
            // The host takes float32 and bfloat16 groups of any number of planes; the kernel stages at most this many.
            throw new NotSupportedException(
                $"The GPU's per-tensor state kernel takes rules of at most {BlockwiseDriver.MaxPlanes} state buffers; '{optimizer.Descriptor.Name}' has {optimizer.Descriptor.States.Count}, so on the GPU its state has one float32 or bfloat16 precision for every group, not {Describe(groups)} ({parameter}). Nothing was changed.");
        }

        if (update is { HasBlockwise: false })
        {
            throw new NotSupportedException(
                $"'{optimizer.Descriptor.Name}' was generated without a blockwise GPU kernel; {Describe(groups)} state runs on the CPU only ({parameter}). Nothing was changed.");
        }
    }

    /// <summary>Whether the host optimizer's state precisions are the device's (the optimizer's and every group's); allocates nothing.</summary>
    private bool HostPrecisionsMatchDevice()
    {
        if (Optimizer.StatePrecision != _devicePrecision || _deviceGroupPrecisions.Length != Layout.GroupCount)
        {
            return false;
        }

        for (int g = 0; g < _deviceGroupPrecisions.Length; g++)
        {
            if (Optimizer.StatePrecisionOf(g) != _deviceGroupPrecisions[g])
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The precisions <paramref name="groups"/> in words: "Int8Blockwise", or "group 0 Int8Blockwise, group 1 Float32".</summary>
    private static string Describe(StatePrecision[] groups)
    {
        if (Array.TrueForAll(groups, p => p == groups[0]))
        {
            return groups.Length == 0 ? "no" : groups[0].ToString();
        }

        var text = new StringBuilder();
        for (int g = 0; g < groups.Length; g++)
        {
            text.Append(g == 0 ? string.Empty : ", ").Append("group ").Append(g).Append(' ').Append(groups[g]);
        }

        return text.ToString();
    }
}
