# NixOS module for Coffer, the walkthrough's OS:
#
#   imports = [ ./coffer/nix/module.nix ];
#   services.coffer = {
#     enable = true;
#     package = pkgs.callPackage ./coffer/nix/package.nix { };  # or any build of this repo
#     backups.home = {
#       label = "Samsung T7";
#       poolName = "backup";
#       poolGuid = "8267171547599648341";   # zpool get -Hp -o value guid backup
#       driveSerial = "S6XNNS0TB03264T";
#       datasets = { "rpool/nixos/home" = "backup/eds"; };
#       scrubIntervalDays = 30;
#     };
#   };
#
# Declared backup sets are written to /etc/coffer/backups.json, the helper's configuration, on
# every activation; changes made in the app last until the next `nixos-rebuild`.
{ config, lib, pkgs, ... }:

let
  cfg = config.services.coffer;

  backupSet = lib.types.submodule ({ name, ... }: {
    options = {
      label = lib.mkOption {
        type = lib.types.str;
        default = name;
        description = "Name shown for this backup.";
      };
      poolName = lib.mkOption {
        type = lib.types.str;
        description = "Name of the pool on the backup drive.";
      };
      poolGuid = lib.mkOption {
        type = lib.types.strMatching "[0-9]+";
        description = "The pool's guid in decimal (`zpool get -Hp -o value guid POOL`).";
      };
      driveSerial = lib.mkOption {
        type = lib.types.str;
        default = "";
        description = "The drive's serial number, from its /dev/disk/by-id name.";
      };
      driveById = lib.mkOption {
        type = lib.types.str;
        default = "";
        description = "The drive's /dev/disk/by-id path.";
      };
      datasets = lib.mkOption {
        type = lib.types.attrsOf lib.types.str;
        example = { "rpool/nixos/home" = "backup/eds"; };
        description = "Source dataset to dataset on the drive.";
      };
      autoBackup = lib.mkOption {
        type = lib.types.bool;
        default = false;
        description = "Back up as soon as the drive is plugged in.";
      };
      snapshotMaxAgeHours = lib.mkOption {
        type = lib.types.ints.unsigned;
        default = 0;
        description = "Take a coffer_<time> snapshot when the newest is older than this; 0 never.";
      };
      scrubIntervalDays = lib.mkOption {
        type = lib.types.ints.unsigned;
        default = 30;
        description = "Remind to check the drive after this many days.";
      };
    };
  });

  toConfig = id: b: {
    inherit id;
    label = b.label;
    pool_name = b.poolName;
    pool_guid = b.poolGuid;
    drive_serial = b.driveSerial;
    drive_by_id = b.driveById;
    datasets = lib.mapAttrsToList (source: target: { inherit source target; }) b.datasets;
    auto_backup = b.autoBackup;
    snapshot_max_age_hours = b.snapshotMaxAgeHours;
    scrub_interval_days = b.scrubIntervalDays;
  };

  backupsJson = pkgs.writeText "coffer-backups.json" (builtins.toJSON {
    version = 1;
    backups = lib.mapAttrsToList toConfig cfg.backups;
  });
in
{
  options.services.coffer = {
    enable = lib.mkEnableOption "Coffer, encrypted ZFS backups to an external drive";

    package = lib.mkOption {
      type = lib.types.package;
      description = "Coffer, built with meson (it installs the helper, its unit and policies).";
    };

    backups = lib.mkOption {
      type = lib.types.attrsOf backupSet;
      default = { };
      description = "Backup sets, by id.";
    };
  };

  config = lib.mkIf cfg.enable {
    boot.supportedFilesystems = [ "zfs" ];
    security.polkit.enable = true;
    services.udisks2.enable = true;

    # The D-Bus activation file, the bus policy and the polkit actions.
    services.dbus.packages = [ cfg.package ];
    environment.pathsToLink = [ "/share/polkit-1" ];
    systemd.packages = [ cfg.package ];
    # The helper runs zfs, zpool, parted, wipefs and udevadm from a fixed PATH that ends in
    # /run/current-system/sw/bin, so they must be in the system profile.
    environment.systemPackages = [ cfg.package config.boot.zfs.package pkgs.parted pkgs.util-linux ];

    environment.etc."coffer/backups.json" = lib.mkIf (cfg.backups != { }) {
      source = backupsJson;
      # A copy, not a link into the store, so the helper can still record changes.
      mode = "0600";
    };
  };
}
